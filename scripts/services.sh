#!/usr/bin/env bash
# Makes sure the services the tests need answer on 127.0.0.1: Redis (6379),
# PostgreSQL (5432, trust auth, database `test`), MariaDB (3306, root with an
# empty password, database `test`) and a 3-master Redis Cluster (7001-7003).
# Starts whatever is down and installs (apt-get) whatever is missing.
#
#   scripts/services.sh          ensure everything, then print the exports
#   eval "$(scripts/services.sh)"  ... and export them into this shell
#
# Progress goes to stderr, so that only the exports reach stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "services: $*" >&2; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

wait_for() { # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "$what did not come up"; return 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    # Tests connect as postgres over TCP without a password.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
    fi
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
  fi
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE test' >&2
  fi
}

ensure_mariadb() {
  if ! command -v mariadbd >/dev/null && ! [ -x /usr/sbin/mariadbd ]; then
    apt_install mariadb-server
  fi
  if ! mysqladmin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; then
    log "starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for MariaDB mysqladmin --socket=/run/mysqld/mysqld.sock -uroot ping
  fi
  if ! mysql -h 127.0.0.1 -P 3306 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    # A fresh install lets root in only through the socket: open TCP with an empty password.
    mysql --socket=/run/mysqld/mysqld.sock -uroot -e \
      "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;" >&2
  fi
  mysql -h 127.0.0.1 -P 3306 -uroot -e 'CREATE DATABASE IF NOT EXISTS test' >&2
}

ensure_redis
ensure_postgres
ensure_mariadb
cluster_line=$("$here/redis-cluster.sh" start)

echo "export REDIS_URL=redis://127.0.0.1:6379"
echo "export ${cluster_line}"
echo "export POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
echo "export MYSQL_URL=mysql://root@127.0.0.1:3306/test"
