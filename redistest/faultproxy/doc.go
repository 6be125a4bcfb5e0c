// Package faultproxy puts network faults and slow links between a client and a redis-server, in-process
// and on loopback only, for fault tests and for the benchmarks' emulated networks.
//
// Proxy runs a Toxiproxy proxy (github.com/Shopify/toxiproxy/v2, the library, not its binary or HTTP API)
// inside the test process: latency with jitter, bandwidth limits, connection resets, black holes (data
// dropped, connection kept), streams cut after N bytes or sliced into small pieces, and refusing
// connections altogether. Toxiproxy counts time in whole milliseconds, so DelayProxy adds what it cannot:
// a fixed sub-millisecond one-way delay (135.5 µs each way emulates the book's 0.271 ms LAN). DelayProxy
// stamps every chunk it reads and writes it once its time has come, so order and throughput are kept:
// a pipeline of N commands costs one delay, not N.
//
// MeasureRTT reports the round trip a client actually gets through either proxy (PINGs, median), which
// is what a benchmark should put beside its figures: the configured delay is only an intent.
//
// Every proxy listens on 127.0.0.1 and refuses an upstream off loopback (ErrNotLoopback; a name such as
// localhost is resolved, and every address must be on loopback). Close stops it and closes its
// connections; StartT and StartDelayT close it when the test ends.
//
// Every call returns in bounded time, whatever the upstream does: Toxic.Remove and Proxy.RemoveAll by
// ctx's deadline, the calls without a ctx (Add and the typed toxics, Disable, Enable, Close) by the
// proxy's SetTimeout. Toxiproxy can deadlock when toxics change while a link's data cannot move; such
// a change is given up on with ErrStuck (see Proxy). DelayProxy.Close drops data still waiting out its
// delay rather than waiting for it.
package faultproxy
