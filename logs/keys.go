package logs

// Key names, built from Options.Prefix. With the default prefix they are the book's.

// fileKey holds the name (not the path) of the file being processed. STRING
func fileKey(prefix string) string { return prefix + "file" }

// positionKey holds the byte offset in that file just after the last committed line, in decimal. STRING
func positionKey(prefix string) string { return prefix + "position" }
