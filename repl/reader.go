package repl

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/chzyer/readline"
)

// lineReader supplies input lines: readline on a terminal, plain reads
// otherwise.
type lineReader interface {
	// readLine returns the next line without its newline; io.EOF at the end
	// of input (Ctrl-D), errInterrupted on Ctrl-C at the prompt.
	readLine(ctx context.Context, prompt string) (string, error)
	// saveHistory adds one entry to the history (and its file).
	saveHistory(entry string)
	close()
}

// fdOf returns the file descriptor behind r or w when it is a terminal, or
// -1.
func fdOf(x any) int {
	f, ok := x.(interface{ Fd() uintptr })
	if !ok {
		return -1
	}
	fd := int(f.Fd())
	if !readline.IsTerminal(fd) {
		return -1
	}
	return fd
}

// isTerminal reports whether x is a terminal.
func isTerminal(x any) bool { return fdOf(x) >= 0 }

// readlineReader reads lines with github.com/chzyer/readline: editing,
// history (saved to a file, searchable with Ctrl-R), tab completion.
type readlineReader struct {
	rl    *readline.Instance
	stdin *readline.CancelableStdin
}

func newReadlineReader(in io.Reader, out, errw io.Writer, historyFile string, ac readline.AutoCompleter) (*readlineReader, error) {
	inFd, outFd := fdOf(in), fdOf(out)
	// The terminal is in raw mode only while a line is read: while a
	// statement runs, Ctrl-C reaches the process as SIGINT, which cancels
	// the statement (see shell.watchInterrupts).
	var raw *readline.State
	stdin := readline.NewCancelableStdin(in)
	cfg := &readline.Config{
		HistoryFile:            historyFile,
		HistoryLimit:           1000,
		DisableAutoSaveHistory: true, // a multi-line statement is one entry
		HistorySearchFold:      true,
		AutoComplete:           ac,
		InterruptPrompt:        "^C",
		EOFPrompt:              `\q`,
		Stdin:                  stdin,
		Stdout:                 out,
		Stderr:                 errw,
		FuncIsTerminal:         func() bool { return true },
		FuncMakeRaw: func() error {
			if inFd < 0 {
				return nil
			}
			st, err := readline.MakeRaw(inFd)
			if err != nil {
				return err
			}
			raw = st
			return nil
		},
		FuncExitRaw: func() error {
			if inFd < 0 || raw == nil {
				return nil
			}
			st := raw
			raw = nil
			return readline.Restore(inFd, st)
		},
		FuncGetWidth: func() int {
			for _, fd := range []int{outFd, inFd} {
				if fd >= 0 {
					if w, _, err := readline.GetSize(fd); err == nil && w > 0 {
						return w
					}
				}
			}
			return 80
		},
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		stdin.Close()
		return nil, err
	}
	return &readlineReader{rl: rl, stdin: stdin}, nil
}

func (r *readlineReader) readLine(ctx context.Context, prompt string) (string, error) {
	stop := context.AfterFunc(ctx, r.close)
	defer stop()
	r.rl.SetPrompt(prompt)
	line, err := r.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", errInterrupted
	}
	if err != nil {
		return "", err
	}
	return line, nil
}

func (r *readlineReader) saveHistory(entry string) { _ = r.rl.SaveHistory(entry) }

func (r *readlineReader) close() {
	// Unblock a pending read first: readline's Close waits for its reader.
	r.stdin.Close()
	r.rl.Close()
}

// plainReader reads lines from a non-terminal. A goroutine does the reads
// (one per request, never ahead) so that a caller can stop waiting when its
// context is done.
type plainReader struct {
	once sync.Once
	req  chan struct{}
	resp chan lineResult
	done chan struct{}
}

type lineResult struct {
	line string
	err  error
}

func newPlainReader(in io.Reader) *plainReader {
	r := &plainReader{req: make(chan struct{}), resp: make(chan lineResult, 1), done: make(chan struct{})}
	go func() {
		br := bufio.NewReader(in)
		var pendingErr error
		for {
			select {
			case <-r.req:
			case <-r.done:
				return
			}
			if pendingErr != nil {
				r.resp <- lineResult{err: pendingErr}
				continue
			}
			line, err := br.ReadString('\n')
			switch {
			case err == nil:
				r.resp <- lineResult{line: line[:len(line)-1]}
			case line != "":
				// A last line without a newline: return it, then the error.
				pendingErr = err
				r.resp <- lineResult{line: line}
			default:
				pendingErr = err
				r.resp <- lineResult{err: err}
			}
		}
	}()
	return r
}

func (r *plainReader) readLine(ctx context.Context, _ string) (string, error) {
	select {
	case r.req <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case res := <-r.resp:
		return res.line, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (r *plainReader) saveHistory(string) {}

func (r *plainReader) close() { r.once.Do(func() { close(r.done) }) }
