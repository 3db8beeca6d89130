// Benchmark peer — govmomi's view.Manager + property.Collector retrieving every VM with the benchmark's
// ten properties, paged with maxObjects like vfleet's client, decoded into mo.VirtualMachine as govc does.
// Prints one JSON line: {"objects":N,"ms":T,"pages":P,"maxRssKb":K}.
//
// Build (GOPATH mode, Debian's golang-github-vmware-govmomi-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= go build -o peer ./bench/vsphere-retrieve/peer
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	sdk := flag.String("url", "", "https://host/sdk")
	user := flag.String("user", "", "username")
	pass := flag.String("pass", os.Getenv("VSPHERE_PASSWORD"), "password (default: $VSPHERE_PASSWORD)")
	maxObjects := flag.Int("max-objects", 100, "RetrieveOptions.maxObjects")
	props := flag.String("props", "name", "comma-separated property paths")
	flag.Parse()

	u, err := url.Parse(*sdk)
	if err != nil {
		log.Fatal(err)
	}
	u.User = url.UserPassword(*user, *pass)
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true) // loopback vcsim with a self-signed certificate
	if err != nil {
		log.Fatalf("login: %v", err)
	}
	defer c.Logout(ctx)

	started := time.Now()
	m := view.NewManager(c.Client)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		log.Fatal(err)
	}
	pc := property.DefaultCollector(c.Client)
	spec := types.PropertyFilterSpec{
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: strings.Split(*props, ",")}},
		ObjectSet: []types.ObjectSpec{{
			Obj:  v.Reference(),
			Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				SelectionSpec: types.SelectionSpec{Name: "view"},
				Type:          "ContainerView",
				Path:          "view",
			}},
		}},
	}
	req := types.RetrievePropertiesEx{
		This:    pc.Reference(),
		SpecSet: []types.PropertyFilterSpec{spec},
		Options: types.RetrieveOptions{MaxObjects: int32(*maxObjects)},
	}
	res, err := methods.RetrievePropertiesEx(ctx, c.Client, &req)
	if err != nil {
		log.Fatal(err)
	}
	var vms []mo.VirtualMachine
	pages := 0
	for result := res.Returnval; result != nil; {
		pages++
		var page []mo.VirtualMachine
		if err := mo.LoadObjectContent(result.Objects, &page); err != nil {
			log.Fatal(err)
		}
		vms = append(vms, page...)
		if result.Token == "" {
			break
		}
		next, err := methods.ContinueRetrievePropertiesEx(ctx, c.Client, &types.ContinueRetrievePropertiesEx{
			This: pc.Reference(), Token: result.Token,
		})
		if err != nil {
			log.Fatal(err)
		}
		result = &next.Returnval
	}
	_ = v.Destroy(ctx)
	elapsed := time.Since(started)

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"objects":  len(vms),
		"ms":       float64(elapsed.Microseconds()) / 1000,
		"pages":    pages,
		"maxRssKb": ru.Maxrss,
	})
}
