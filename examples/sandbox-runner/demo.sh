#!/usr/bin/env bash
# One command on a fresh Debian machine, as root: installs what is missing (Debian packages and
# the npm dependencies), then shows the sandbox runner at work on real namespaces, CNI plugins and
# runc: a sandbox and its IP, a rollback, a retained netns and its later removal. It leaves
# nothing behind (it checks).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: run as root (network namespaces and runc need CAP_SYS_ADMIN)" >&2
  exit 2
fi

# --- install what is missing -------------------------------------------------------------------
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
for tool in unshare nsenter setpriv; do command -v "$tool" >/dev/null 2>&1 || need+=(util-linux); done
command -v umount >/dev/null 2>&1 || need+=(mount)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] || need+=(containernetworking-plugins)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/bin/busybox ] || need+=(busybox-static)
if ((${#need[@]})); then
  echo "==> installing: $(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- the demo ----------------------------------------------------------------------------------
state=$(mktemp -d /tmp/errdefer-demo.XXXXXX)
prefix=errdefer-demo-
bridge=errdemo0
subnet=10.254.77.0/24
gateway=10.254.77.1
# The CLI bundled once (scripts/build-cli.js), then started as users start errdefer-sandbox.
echo "==> npm run build:cli"
node scripts/build-cli.js --if-stale
sr() { node examples/sandbox-runner/bin/errdefer-sandbox.mjs --state-dir "$state/state" --cni-data-dir "$state/cni-networks" --prefix "$prefix" --bridge "$bridge" --subnet "$subnet" "$@"; }
cleanup() {
  for id in $(sr ls --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const r of JSON.parse(s))console.log(r.id)}catch{}})'); do
    sr -q rm "$id" || true
  done
  sr -q gc >/dev/null 2>&1 || true
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

cat > "$state/pod.json" <<'JSON'
{
  "metadata": { "name": "demo", "namespace": "default", "uid": "demo-uid", "attempt": 0 },
  "hostname": "demo",
  "labels": { "app": "demo" }
}
JSON
sed 's/"name": "demo"/"name": "demo-2"/; s/"hostname": "demo"/"hostname": "demo-2"/' "$state/pod.json" > "$state/pod-2.json"
expect_fail() { if "$@"; then echo "demo.sh: expected this to fail" >&2; exit 1; else echo "(exit $?: as expected)"; fi; }

step "run a pod sandbox (netns, CNI bridge + host-local, runc pause container)"
id=$(sr run "$state/pod.json")   # the id alone, as crictl runp prints it
echo "$id"
sr ls

step "inside its network namespace: ip addr"
netns=$(sr inspect "$id" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).netnsPath))')
ip_addr=$(sr inspect "$id" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).ip))')
nsenter --net="$netns" ip -br addr

step "reach it from the host once (a host address on our bridge, just for this ping)"
ip addr add "$gateway/24" dev "$bridge"
busybox ping -c 1 -W 2 "$ip_addr"
ip addr del "$gateway/24" dev "$bridge"

step "inject a CNI failure: the run fails and everything it made is rolled back"
expect_fail sr run "$state/pod-2.json" --failpoint cni-add=error

step "inject a failing teardown: CNI DEL fails, so the netns is retained (guarded) and the sandbox stays NOTREADY"
expect_fail sr run "$state/pod-2.json" --failpoint start-container=error --failpoint cni-del=error
sr ls
kept=$(sr ls --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const r of JSON.parse(s))if(r.state==="NOTREADY")console.log(r.id)})')
[ -n "$kept" ] || { echo "demo.sh: no NOTREADY sandbox" >&2; exit 1; }
echo "retained netns: $(sr inspect "$kept" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).netnsPath))')"

step "the fault is lifted: rm retries the teardown and succeeds"
sr rm "$kept"
sr ls

step "stop and remove the first sandbox"
sr stop "$id"
sr rm "$id"
sr ls

step "nothing left behind"
left=$( (ip netns list | grep "^$prefix" || true; grep " nsfs " /proc/self/mounts | grep "$prefix" || true; runc --root "$state/state/runc" list -q 2>/dev/null || true; ls "$state/cni-networks/errdefer" 2>/dev/null | grep -v -e '^lock$' -e '^last_reserved_ip' || true) )
if [ -n "$left" ]; then
  echo "LEFT BEHIND:"; echo "$left"; exit 1
fi
echo "no namespace, mount, container or IP allocation left"
