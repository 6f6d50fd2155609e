// Command upstream is the benchmark's backend: a minimal, fast HTTP server on loopback.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	body := []byte(`{"status":"ok","service":"bench"}` + "\n")
	clen := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr["Content-Type"] = []string{"application/json"}
		hdr["Content-Length"] = []string{clen}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("upstream listening on %s", ln.Addr())
	log.Fatal(http.Serve(ln, h))
}
