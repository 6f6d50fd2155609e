// Command hello is the Go app of the hot-reload benchmark: it answers its version marker.
package main

import (
	"fmt"
	"net/http"
	"os"
)

const version = "v0"

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, version) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
