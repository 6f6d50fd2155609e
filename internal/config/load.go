package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"
)

// Load reads, interpolates, decodes, defaults and validates a devstack.yaml.
// TEMPORARY minimal version: the config owner replaces it with the full pipeline.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path, c.Dir = abs, filepath.Dir(abs)
	for name, s := range c.Services {
		s.Name = name
		c.ServiceSeq = append(c.ServiceSeq, name)
	}
	return &c, nil
}

// StateDirPath is the absolute state directory (default <dir>/.devstack).
func (c *Config) StateDirPath() string {
	d := c.StateDir
	if d == "" {
		d = ".devstack"
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join(c.Dir, d)
	}
	return d
}
