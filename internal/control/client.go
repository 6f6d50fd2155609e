package control

import (
	"errors"
)

// Dial connects to the control API of the stack whose state directory is stateDir.
// TEMPORARY: implemented with the control server.
func Dial(stateDir string) (Controller, error) {
	return nil, errors.New("no running stack")
}
