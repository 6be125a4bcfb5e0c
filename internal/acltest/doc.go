// Package acltest runs every pattern as a Redis ACL user that has only the rules the README names
// for it, so the published least-privilege rule sets are proven sufficient and minimal.
package acltest
