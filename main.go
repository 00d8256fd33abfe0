// Command depot is a self-hosted managed-file-transfer appliance: one binary
// serving an admin API, SFTP and browser pages over bbolt and local disk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"depot/config"
	"depot/store"
)

// errShown marks an error already printed (by the flag package).
var errShown = errors.New("shown")

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// commands are the subcommands: how each is called and what it does, for
// depot --help and each command's own --help.
var commands = []struct{ name, args, about string }{
	{"serve", "[--config FILE]", "run the API, SFTP and web servers"},
	{"init", "[--config FILE] [--admin-key-file FILE]", "create the data directory and first administrator\n(its key printed, or written to FILE, mode 0600)"},
	{"backup", "--out FILE [--config FILE] [--url URL]", "write a consistent snapshot of the database"},
	{"migrate", "--to DSN [--config FILE]", "copy the bbolt database into an empty PostgreSQL\ndatabase (with the server stopped); the password\nfrom PGPASSWORD or ~/.pgpass, not the command line"},
	{"fsck", "[--config FILE]", "recount storage usage from the disk and remove\nleftover upload files (with the server stopped)"},
	{"admin reset-key", "[--config FILE] EMAIL", "give a user (a lost administrator) a new API key,\nprinted once (with the server stopped)"},
	{"admin set-password", "[--config FILE] EMAIL", "give a user a password, read from standard input\n(with the server stopped)"},
	{"config", "[--config FILE]", "print the effective settings (secrets masked) and\nwhere each comes from: default, file or variable"},
	{"version", "", "print the version"},
}

// usage is depot --help.
var usage = func() string {
	var b strings.Builder
	b.WriteString("Depot: a self-hosted managed file transfer appliance.\n\nUsage:\n")
	for _, c := range commands {
		line := strings.TrimSpace("depot " + c.name + " " + c.args)
		about := strings.Split(c.about, "\n")
		if len(line) <= 30 {
			fmt.Fprintf(&b, "  %-30s  %s\n", line, about[0])
			about = about[1:]
		} else {
			fmt.Fprintf(&b, "  %s\n", line)
		}
		for _, l := range about {
			fmt.Fprintf(&b, "  %-30s  %s\n", "", l)
		}
	}
	b.WriteString("\nEvery setting can also come from DEPOT_<SECTION>_<KEY> environment variables;\nsee config.example.toml.\n")
	return b.String()
}()

// commandUsage is a command's --help: how it is called, what it does, and
// its flags.
func commandUsage(fs *flag.FlagSet, name string) func() {
	return func() {
		for _, c := range commands {
			if c.name == name {
				about := strings.ReplaceAll(c.about, "\n", " ")
				fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s%s.\n\nFlags:\n", strings.TrimSpace("depot "+c.name+" "+c.args),
					strings.ToUpper(about[:1]), about[1:])
			}
		}
		fs.PrintDefaults()
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errShown) {
			fmt.Fprintln(os.Stderr, "depot:", err)
		}
		stop()
		os.Exit(1)
	}
}

// run dispatches a command line; it returns when the command is done or
// ctx is cancelled by a signal.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("depot "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fs.SetOutput(stdout) // asked for: the flags go to standard output
	}
	configPath := fs.String("config", "", "TOML configuration file (default: built-in settings)")
	fs.Usage = commandUsage(fs, cmd)
	// parse reads the flags and wants exactly the arguments named; --help
	// shows them and ends the command without an error, a bad flag is
	// printed once, by the flag package, and a stray argument is refused
	// before anything is done.
	parse := func(wants ...string) (bool, error) {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%w: %w", errShown, err)
		}
		switch {
		case fs.NArg() > len(wants) && len(wants) == 0:
			return false, fmt.Errorf("%s takes no arguments, only flags: %q is not one (see %s --help)", fs.Name(), fs.Arg(0), fs.Name())
		case fs.NArg() > len(wants):
			return false, fmt.Errorf("%s takes %s: %q is one too many", fs.Name(), strings.Join(wants, " "), fs.Arg(len(wants)))
		case fs.NArg() < len(wants):
			return false, fmt.Errorf("%s needs %s", fs.Name(), strings.Join(wants, " "))
		}
		return true, nil
	}
	switch cmd {
	case "serve":
		if ok, err := parse(); !ok {
			return err
		}
		return serve(ctx, *configPath, stdout, stderr)
	case "init":
		keyFile := fs.String("admin-key-file", "", "write the first administrator's API key to this file (mode 0600) instead of printing it")
		if ok, err := parse(); !ok {
			return err
		}
		return initData(ctx, *configPath, *keyFile, stdout)
	case "backup":
		out := fs.String("out", "", "file to write the snapshot to (required)")
		url := fs.String("url", "", "base URL of a running server (default: from http.listen)")
		if ok, err := parse(); !ok {
			return err
		}
		return backup(ctx, *configPath, *out, *url, stdout)
	case "migrate":
		to := fs.String("to", "", "the PostgreSQL database: a postgres:// URL or key=value string (required)")
		if ok, err := parse(); !ok {
			return err
		}
		return migrateTo(ctx, *configPath, *to, stdout)
	case "fsck":
		if ok, err := parse(); !ok {
			return err
		}
		return fsck(ctx, *configPath, stdout)
	case "admin":
		if len(args) == 0 || args[0] != "reset-key" && args[0] != "set-password" {
			fmt.Fprint(stderr, usage)
			return errors.New("admin: the admin commands are reset-key EMAIL and set-password EMAIL")
		}
		sub := args[0]
		fs.Init("depot admin "+sub, flag.ContinueOnError)
		fs.Usage = commandUsage(fs, "admin "+sub)
		args = args[1:]
		if ok, err := parse("EMAIL"); !ok {
			return err
		}
		if sub == "set-password" {
			return setPassword(ctx, *configPath, fs.Arg(0), stdin, stdout)
		}
		return resetKey(ctx, *configPath, fs.Arg(0), stdout)
	case "config":
		if ok, err := parse(); !ok {
			return err
		}
		settings, err := config.Explain(*configPath, environ())
		if err != nil {
			return err
		}
		for _, name := range config.UnknownEnv(environ()) {
			fmt.Fprintf(stderr, "depot: warning: %s names no setting and is ignored (see config.example.toml)\n", name)
		}
		section := ""
		for _, st := range settings {
			sec, key, _ := strings.Cut(st.Key, ".")
			if sec != section {
				fmt.Fprintf(stdout, "\n[%s]\n", sec)
				section = sec
			}
			fmt.Fprintf(stdout, "%s = %s  # %s\n", key, st.Value, st.Source)
		}
		return nil
	case "version", "--version", "-v":
		if ok, err := parse(); !ok {
			return err
		}
		fmt.Fprintln(stdout, "depot", versionLine())
		fmt.Fprintln(stdout, "database schema", store.SchemaVersion) // a new one: stop every node to upgrade
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// versionLine is the version with the commit and its time from the build
// information, when the binary was built from a checkout.
func versionLine() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	var rev, at, modified string
	for _, st := range info.Settings {
		switch st.Key {
		case "vcs.revision":
			rev = st.Value
		case "vcs.time":
			at = st.Value
		case "vcs.modified":
			if st.Value == "true" {
				modified = " with local changes"
			}
		}
	}
	if rev == "" {
		return version + " (" + info.GoVersion + ")"
	}
	return fmt.Sprintf("%s (commit %.12s of %s%s, %s)", version, rev, at, modified, info.GoVersion)
}
