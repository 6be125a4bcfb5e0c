// Package bounded checks that every public function doing I/O returns by its deadline when the server stops answering.
package bounded
