// Package procinfo reads facts about local processes that error messages need: who listens on a port.
package procinfo
