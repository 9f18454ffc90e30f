// Command cni-exec gives a CNI plugin that talks to ipamd its own view of ipamd's address without
// touching the machine it runs on.
//
//	cni-exec plugin --ipamd-dir DIR --scratch DIR -- PLUGIN [ARG...]
//	    Inside a private mount namespace (run it through `unshare --mount --propagation private`;
//	    it refuses otherwise), makes /var/run/aws-node show DIR (where returnpath's ipamd stand-in
//	    listens on ipamd.sock, the socket path v1.23 plugins hard-code), then execs PLUGIN with the
//	    same environment and stdin. When /var/run/aws-node does not exist on the machine, the mount
//	    point is made in this namespace only: /var is replaced by a tmpfs holding bind mounts of
//	    its entries (SCRATCH holds the original /var meanwhile) and /var/run becomes a directory
//	    of symlinks to /run's entries plus aws-node. Nothing is created outside DIR and SCRATCH.
//
//	cni-exec forward --listen 127.0.0.1:50051 --unix PATH
//	    Forwards TCP connections to a Unix socket: plugins up to v1.22 dial ipamd on TCP
//	    127.0.0.1:50051 inside the node's network namespace. Prints "listening" when ready.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

const ipamdDir = "/var/run/aws-node"

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: cni-exec plugin|forward ..."))
	}
	var err error
	switch os.Args[1] {
	case "plugin":
		err = plugin(os.Args[2:])
	case "forward":
		err = forward(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: expected plugin or forward", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "cni-exec: %v\n", err)
	os.Exit(1)
}

func plugin(args []string) error {
	fs := flag.NewFlagSet("plugin", flag.ContinueOnError)
	dir := fs.String("ipamd-dir", "", "directory shown at /var/run/aws-node")
	scratch := fs.String("scratch", "", "empty directory for the original /var while it is shadowed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if *dir == "" || *scratch == "" || len(rest) == 0 {
		return errors.New("usage: cni-exec plugin --ipamd-dir DIR --scratch DIR -- PLUGIN [ARG...]")
	}
	if err := requirePrivateMounts(); err != nil {
		return err
	}
	if err := showAt(*dir, *scratch); err != nil {
		return err
	}
	return syscall.Exec(rest[0], rest, os.Environ())
}

// requirePrivateMounts refuses to mount anything unless this process has its own mount namespace
// whose root does not propagate mounts back to the machine.
func requirePrivateMounts() error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	initNs, err := os.Readlink("/proc/1/ns/mnt")
	if err == nil && self == initNs {
		return errors.New("not in a private mount namespace: run through `unshare --mount --propagation private`")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 6 && fields[4] == "/" {
			for _, opt := range fields[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") || strings.HasPrefix(opt, "master:") {
					return errors.New("the root mount propagates (" + opt + "): run through `unshare --mount --propagation private`")
				}
			}
		}
	}
	return s.Err()
}

func showAt(dir, scratch string) error {
	if fi, err := os.Stat(ipamdDir); err == nil && fi.IsDir() {
		return bind(dir, ipamdDir, false)
	}
	parent := filepath.Dir(ipamdDir) // /var/run
	li, err := os.Lstat(parent)
	if err != nil {
		return fmt.Errorf("%s: %w", parent, err)
	}
	if li.Mode()&os.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(parent)
		if err != nil {
			return err
		}
		if err := shadow(filepath.Dir(parent), scratch, filepath.Base(parent)); err != nil {
			return err
		}
		if err := os.Mkdir(parent, 0o755); err != nil {
			return err
		}
		entries, err := os.ReadDir(target)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.Symlink(filepath.Join(target, e.Name()), filepath.Join(parent, e.Name())); err != nil {
				return err
			}
		}
	} else if err := shadow(parent, scratch, ""); err != nil {
		return err
	}
	if err := os.Mkdir(ipamdDir, 0o755); err != nil {
		return err
	}
	return bind(dir, ipamdDir, false)
}

// shadow replaces dir, in this mount namespace, by a tmpfs holding the same entries (bind mounts
// of directories and files, copies of symlinks), except `except`; the original stays reachable
// under scratch.
func shadow(dir, scratch, except string) error {
	if err := bind(dir, scratch, true); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	entries, err := os.ReadDir(scratch)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == except {
			continue
		}
		src, dst := filepath.Join(scratch, e.Name()), filepath.Join(dir, e.Name())
		fi, err := os.Lstat(src)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			t, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(t, dst); err != nil {
				return err
			}
		case fi.IsDir():
			if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil {
				return err
			}
			if err := bind(src, dst, true); err != nil {
				return err
			}
		default:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			f.Close()
			if err := bind(src, dst, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func bind(src, dst string, recursive bool) error {
	flags := uintptr(syscall.MS_BIND)
	if recursive {
		flags |= syscall.MS_REC
	}
	if err := syscall.Mount(src, dst, "", flags, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
	}
	return nil
}

func forward(args []string) error {
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:50051", "TCP address to listen on")
	unixPath := fs.String("unix", "", "Unix socket to forward to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *unixPath == "" {
		return errors.New("usage: cni-exec forward --listen ADDR --unix PATH")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// A lab left up stops reading our output once we are ready: a write must not kill us.
	signal.Ignore(syscall.SIGPIPE)
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func(c net.Conn) {
			defer c.Close()
			u, err := net.Dial("unix", *unixPath)
			if err != nil {
				fmt.Fprintf(os.Stderr, "cni-exec: dial %s: %v\n", *unixPath, err)
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
			<-done
		}(c)
	}
}
