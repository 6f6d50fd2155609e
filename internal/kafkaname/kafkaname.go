// Package kafkaname holds Kafka's topic name rule, written once for the config validator
// (internal/config) and the broker (internal/broker), which must not import each other. It imports
// nothing.
package kafkaname

import (
	"errors"
	"fmt"
)

// MaxTopicLen is the longest topic name Kafka accepts; TopicPattern is the character rule as a regular
// expression, for the JSON Schema (which cannot refuse "." and "..").
const (
	MaxTopicLen  = 249
	TopicPattern = `^[a-zA-Z0-9._-]+$`
)

// CheckTopic applies Kafka's topic name rules: 1 to 249 characters out of [a-zA-Z0-9._-], and neither
// "." nor "..".
func CheckTopic(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > MaxTopicLen:
		return fmt.Errorf("topic name %q is longer than %d characters", name, MaxTopicLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}
