#!/bin/sh
# tests/data/demo/run-demo.sh -- `make run`: serve the bundled demo state on 127.0.0.1:8053.
BIN=${1:-build/bin/mesos-dnsd}
cat <<MSG
mesos-dnsd demo: serving the bundled state tests/data/demo/state.json on 127.0.0.1:8053.
Try, in another terminal:
  dig @127.0.0.1 -p 8053 _nginx._tcp.marathon.mesos SRV
  dig @127.0.0.1 -p 8053 nginx.marathon.mesos A
  dig @127.0.0.1 -p 8053 _http._shop._tcp.marathon.mesos SRV
  dig @127.0.0.1 -p 8053 leader.mesos A
  dig @127.0.0.1 -p 8053 slave.mesos A
  dig @127.0.0.1 -p 8053 mesos SOA
Ctrl-C stops it.
MSG
exec "$BIN" -config tests/data/demo/config.json
