package stack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/containers"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// TestContainerDatabaseLikeEmbedded: the PostgreSQL container is provisioned by the same rules as the embedded
// server, whoever asks: many sources ensuring databases at once (services starting in parallel, the control
// API) all get them; a role that already exists (made by hand, or by an older devstack, without LOGIN) is
// taken over with the database's password; a superuser of the database's name is refused.
func TestContainerDatabaseLikeEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	testkit.NeedEngine(t, containers.Available(ctx))
	_, pgImage := testkit.ContainerImages(config.DefaultBrokerImage, config.DefaultPostgresImage)
	port := testkit.FreePort(t)
	stackName := fmt.Sprintf("devstack-stack-test-%d", port) // the volume's name: one of its own
	t.Cleanup(func() {
		// the named volume outlives the container (gone after Stop, which runs first)
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		if err := containers.RemoveVolumes(cctx, stackName); err != nil {
			t.Error(err)
		}
	})
	c := Containers{Stack: stackName, PostgresImage: pgImage}
	d, err := c.StartDatabase(ctx, postgres.Options{Port: port, User: "postgres", PasswordFile: filepath.Join(t.TempDir(), "pw")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	super, err := sql.Open("postgres", d.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	for _, q := range []string{
		"CREATE ROLE orders NOLOGIN PASSWORD 'not-orders'", // an existing role: taken over
		"CREATE ROLE boss SUPERUSER",                       // a superuser of a database's name: refused
	} {
		if _, err := super.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// every source at once: each of orders, users, billing ensured by three callers concurrently
	var wg sync.WaitGroup
	var mu sync.Mutex
	urls := map[string]string{}
	var errs []error
	for _, name := range []string{"orders", "users", "billing", "orders", "users", "billing", "orders", "users", "billing"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := d.EnsureDatabase(ctx, name, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			urls[name] = u
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent EnsureDatabase: %v", err)
	}
	for name, u := range urls {
		db, err := sql.Open("postgres", u)
		if err != nil {
			t.Fatal(err)
		}
		var owner string
		err = db.QueryRowContext(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").Scan(&owner)
		db.Close()
		if err != nil {
			t.Errorf("%s: connect as its own role with %s: %v", name, u, err)
			continue
		}
		if owner != name {
			t.Errorf("database %s is owned by %s, want %s", name, owner, name)
		}
	}
	if len(urls) != 3 {
		t.Errorf("got URLs for %v, want orders, users, billing", urls)
	}

	if _, err := d.EnsureDatabase(ctx, "boss", nil); err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Errorf("EnsureDatabase(boss) over a superuser role = %v, want a refusal naming the superuser", err)
	}
}
