package procinfo

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The process table comes from sysctl (kern.proc.*), which needs no privileges and no child process;
// it has no CPU time or RSS (PS gives those).

// stateLetter maps a kinfo_proc p_stat to the letter ps prints.
func stateLetter(st int8) byte {
	switch st {
	case 1: // SIDL
		return 'I'
	case 2: // SRUN
		return 'R'
	case 4: // SSTOP
		return 'T'
	case 5: // SZOMB
		return 'Z'
	default: // SSLEEP
		return 'S'
	}
}

func fromKinfo(k *unix.KinfoProc) Proc {
	comm := k.Proc.P_comm[:]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	t := k.Proc.P_starttime
	return Proc{
		PID: int(k.Proc.P_pid), PPID: int(k.Eproc.Ppid), PGID: int(k.Eproc.Pgid),
		State: stateLetter(k.Proc.P_stat), Comm: string(comm),
		Start: uint64(t.Sec)*1_000_000 + uint64(t.Usec),
	}
}

// Lookup reads one process from the process table; ok is false when it does not exist.
func Lookup(pid int) (Proc, bool) {
	if pid <= 0 {
		return Proc{}, false
	}
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || int(k.Proc.P_pid) != pid {
		return Proc{}, false
	}
	return fromKinfo(k), true
}

// List reads the whole process table (nil when it cannot).
func List() []Proc {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil
	}
	out := make([]Proc, 0, len(ks))
	for i := range ks {
		out = append(out, fromKinfo(&ks[i]))
	}
	return out
}

// Environ is pid's initial environment (nil when it cannot be read: another user's process, say).
func Environ(pid int) []string {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil
	}
	_, env, _ := parseProcArgs2(b, binary.NativeEndian)
	return env
}

// Cwd is pid's working directory ("" when unknown).
func Cwd(pid int) string { return cwdLsof(pid) }
