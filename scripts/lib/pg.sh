# shellcheck shell=bash
# A throwaway PostgreSQL cluster in a folder: pg_start DIR PORT, pg_stop DIR.
# As root, the cluster runs as the postgres user (initdb refuses root).

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql-15)" >&2; return 1; }
  echo "$d"
}

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR PORT [extra postgres -c settings...]
pg_start() {
  local dir=$1 port=$2; shift 2
  local bin; bin=$(pg_bindir)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    pg_as_owner "$bin/initdb" -D "$dir" --auth=trust -U postgres -E UTF8 >/dev/null
  fi
  local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
  for o in "$@"; do opts+=" -c $o"; done
  pg_as_owner "$bin/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" -o "$opts" start >/dev/null
}

# Whether a server runs on this data folder (a postmaster.pid left behind by
# a machine restart does not count).
pg_running() {
  local dir=$1
  [ -f "$dir/postmaster.pid" ] || return 1
  pg_as_owner "$(pg_bindir)/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

pg_stop() {
  local dir=$1
  local bin; bin=$(pg_bindir)
  [ -f "$dir/postmaster.pid" ] || return 0
  pg_as_owner "$bin/pg_ctl" -D "$dir" -w -m fast stop >/dev/null 2>&1 || true
}

# A folder the postgres user can reach: under the checkout when possible.
pg_dir_for() {
  local want=$1
  mkdir -p "$(dirname "$want")"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$(dirname "$want")"; then
    echo "${TMPDIR:-/tmp}/billing-pg-$(echo "$want" | md5sum | cut -c1-8)"
  else
    echo "$want"
  fi
}

# A TCP port nobody listens on.
# A free port below the kernel's ephemeral range, so no outgoing connection
# takes it before the server binds it (as tests/support FreePort does).
free_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200 if low > 12000 else 0):
    port = random.randrange(10000, low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(port)
        break
    except OSError:
        pass
    finally:
        s.close()
else:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}
