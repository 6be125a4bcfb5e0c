// Package logs holds fault tests of logs.ProcessLogs: exactly once under SIGKILLed workers and a crashed, restarted redis-server.
package logs
