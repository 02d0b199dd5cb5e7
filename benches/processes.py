"""The child processes of the bench scripts (harness.py, soak.py, faults.py).

Each child runs in its own process group and is recorded in `children`
until it is stopped, so that `cleanup` can stop every one still running:
the scripts call it at exit, also on errors and signals. Python 3.9+ and
the standard library only.
"""

import os
import signal
import socket
import subprocess
import time

children = []  # every subprocess.Popen started here and not stopped yet


def spawn(cmd, **kwargs):
    """Starts cmd in its own process group (kwargs go to Popen) and records it."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    children.append(proc)
    return proc


def start(cmd, env=None, log=None, pin=None, nice=0):
    """Starts cmd with `env` added to this environment and its output
    (stdout and stderr) written to the file `log` (dropped without one),
    pinned to the cores `pin` lists (taskset) and nice'd by `nice`;
    taskset and nice exec, so proc.pid is the program's pid."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    prefix = []
    if nice:
        prefix += ["nice", "-n", str(nice)]
    if pin is not None:
        prefix += ["taskset", "-c", pin]
    out = open(log, "w") if log else subprocess.DEVNULL
    return spawn(prefix + cmd, env=full_env, stdout=out, stderr=subprocess.STDOUT)


def _terminate(proc):
    """SIGTERM to proc's process group, if proc still runs."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _reap(proc, timeout):
    """Waits up to `timeout` s for proc, then SIGKILLs its process group."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    if proc in children:
        children.remove(proc)


def stop(proc, timeout=5.0):
    """Stops proc: SIGTERM, and SIGKILL if it still runs `timeout` s later."""
    _terminate(proc)
    _reap(proc, timeout)


def cleanup():
    """Stops every child not stopped yet: SIGTERM to all of them at once,
    SIGKILL to those still running 5 s later."""
    for proc in list(children):
        _terminate(proc)
    deadline = time.time() + 5
    for proc in list(children):
        _reap(proc, max(0.1, deadline - time.time()))


def wait_port(port, proc, timeout=30.0):
    """Whether 127.0.0.1:port accepts a connection within `timeout` s
    (False as soon as proc exits)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False
