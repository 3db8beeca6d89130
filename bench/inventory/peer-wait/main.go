// Benchmark peer (bench/inventory/lag.ts) — govmomi's own WaitForUpdatesEx loop (property.WaitForUpdates over
// a ContainerView of every VM, watching runtime.powerState) on a vcsim, timing each power-off from the
// PowerOffVM_Task call to the loop seeing the VM poweredOff. The floor the sync's streaming lag is compared
// against: a watch with no database, no HTTP and no cache behind it.
// Prints one JSON line: {"lagsMs":[...],"callMs":[...],"maxRssKb":K}.
//
// Build (GOPATH mode, Debian's golang-github-vmware-govmomi-dev), as bench/vsphere-retrieve's buildGoPeer does:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= go build -o peer-wait ./bench/inventory/peer-wait
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"math/rand"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	sdk := flag.String("url", "", "https://host/sdk")
	user := flag.String("user", "", "username")
	pass := flag.String("pass", os.Getenv("VSPHERE_PASSWORD"), "password (default: $VSPHERE_PASSWORD)")
	count := flag.Int("count", 20, "power-offs to time")
	maxDelayMs := flag.Int("max-delay-ms", 1000, "random pause before each power-off, so changes land at any point of the server's poll")
	seed := flag.Int64("seed", 7, "seed of the pauses and of the VM choice")
	flag.Parse()

	u, err := url.Parse(*sdk)
	if err != nil {
		log.Fatal(err)
	}
	u.User = url.UserPassword(*user, *pass)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := govmomi.NewClient(ctx, u, true) // loopback vcsim with a self-signed certificate
	if err != nil {
		log.Fatalf("login: %v", err)
	}
	// The watch and the power-off calls use separate sessions, as a watcher and an operator would.
	ops, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		log.Fatalf("login: %v", err)
	}

	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		log.Fatal(err)
	}
	filter := new(property.WaitFilter).Add(v.Reference(), "VirtualMachine", []string{"runtime.powerState"}, &types.TraversalSpec{
		SelectionSpec: types.SelectionSpec{Name: "view"},
		Type:          "ContainerView",
		Path:          "view",
	})
	filter.Spec.ObjectSet[0].Skip = types.NewBool(true)

	var mu sync.Mutex
	states := map[string]string{}
	waiters := map[string]chan time.Time{}
	ready := make(chan struct{})
	initial := true
	go func() {
		err := property.WaitForUpdates(ctx, property.DefaultCollector(c.Client), filter, func(updates []types.ObjectUpdate) bool {
			seen := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, update := range updates {
				for _, change := range update.ChangeSet {
					if change.Name != "runtime.powerState" {
						continue
					}
					state, _ := change.Val.(types.VirtualMachinePowerState)
					states[update.Obj.Value] = string(state)
					if w, ok := waiters[update.Obj.Value]; ok && state == types.VirtualMachinePowerStatePoweredOff {
						delete(waiters, update.Obj.Value)
						w <- seen
					}
				}
			}
			if initial && !filter.Truncated {
				initial = false
				close(ready)
			}
			return false
		})
		if err != nil && ctx.Err() == nil {
			log.Fatalf("WaitForUpdatesEx: %v", err)
		}
	}()
	<-ready

	mu.Lock()
	var on []string
	for moid, state := range states {
		if state == string(types.VirtualMachinePowerStatePoweredOn) {
			on = append(on, moid)
		}
	}
	mu.Unlock()
	random := rand.New(rand.NewSource(*seed))
	random.Shuffle(len(on), func(i, j int) { on[i], on[j] = on[j], on[i] })
	if len(on) < *count {
		log.Fatalf("only %d powered-on VMs", len(on))
	}

	lags := []float64{}
	calls := []float64{}
	for _, moid := range on[:*count] {
		time.Sleep(time.Duration(random.Intn(*maxDelayMs+1)) * time.Millisecond)
		seen := make(chan time.Time, 1)
		mu.Lock()
		waiters[moid] = seen
		mu.Unlock()
		started := time.Now()
		// The task is not awaited: the clock stops when the watch sees the state, not when the task ends.
		if _, err := object.NewVirtualMachine(ops.Client, types.ManagedObjectReference{Type: "VirtualMachine", Value: moid}).PowerOff(ctx); err != nil {
			log.Fatalf("power off %s: %v", moid, err)
		}
		calls = append(calls, float64(time.Since(started).Microseconds())/1000)
		select {
		case at := <-seen:
			lags = append(lags, float64(at.Sub(started).Microseconds())/1000)
		case <-time.After(60 * time.Second):
			log.Fatalf("power-off of %s not seen within 60 s", moid)
		}
	}
	cancel()
	_ = v.Destroy(context.Background())
	_ = ops.Logout(context.Background())
	_ = c.Logout(context.Background())

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"lagsMs":   lags,
		"callMs":   calls,
		"maxRssKb": ru.Maxrss,
	})
}
