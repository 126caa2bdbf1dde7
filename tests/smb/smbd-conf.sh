# tests/smb/smbd-conf.sh — sourced by tests/smb/run.sh and tests/smb/client.sh: the throwaway
# smbd configuration both use (../shared/spec/smb.md §4): every directory under one temp
# folder, loopback only, a given port, no on-demand samba-dcerpcd.

# smb_conf DIR PORT: make DIR's subfolders and write DIR/smb.conf for a loopback smbd on PORT.
smb_conf() {
    local D=$1 port=$2
    mkdir -p "$D"/{private,lock,state,cache,pid,ncalrpc,log,binddns}
    cat > "$D/smb.conf" << CONF
[global]
server role = standalone server
interfaces = 127.0.0.1
bind interfaces only = yes
smb ports = $port
disable netbios = yes
server min protocol = SMB2_02
private dir = $D/private
lock directory = $D/lock
state directory = $D/state
cache directory = $D/cache
pid directory = $D/pid
ncalrpc dir = $D/ncalrpc
binddns dir = $D/binddns
log file = $D/log/log.%m
passdb backend = tdbsam:$D/private/passdb.tdb
map to guest = Bad User
load printers = no
printcap name = /dev/null
disable spoolss = yes
rpc start on demand helpers = no
CONF
}
