// Package bounded checks that every public function doing I/O returns by its deadline when the server
// stops answering, with an error that matches its context's (deadline exceeded or cancelled), and
// that no exported function taking a context is left out of the check.
package bounded
