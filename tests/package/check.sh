#!/usr/bin/env bash
# The Debian packages of a build, end to end (ctest: package.debian):
#   check.sh BUILD_DIR WORK_DIR VERSION MULTIARCH
#  1. scripts/package builds parti-node and libparti-dev (cpack);
#  2. lintian finds no error and no warning (the accepted ones are overridden, each with its
#     reason, in packaging/lintian-overrides/<package>), and no override is left unused
#     (it runs while the steps below do, and is waited for at the end);
#  3. the control data: /etc/parti/parti-node.ini is a conffile, and no maintainer script
#     enables or starts the service;
#  4. both packages are extracted (dpkg -x) into a temporary root: parti-node --version,
#     parti-ctl --help and parti-consume --version run from it, the packaged
#     parti-node.ini passes parti-node --check-config, and each program has its manual page
#     (made by help2man), naming every option of its --help;
#  5. tests/install/consumer builds and runs against the extracted libparti-dev;
#  6. the packaged systemd unit: ExecStart and Documentation= name files of the package, and
#     systemd-analyze verify (when present) has nothing to say about it.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build=$1 work=$2 version=$3 multiarch=$4

fail() {
  echo "FAILED: $*" >&2
  exit 1
}
step() { echo "== $*"; }

rm -rf "$work"
mkdir -p "$work"
root=$work/root

step "cpack (scripts/package)"
"$source_dir/scripts/package" "$build" "$work/debs"
runtime_deb=$(echo "$work"/debs/parti-node_"$version"-*.deb)
dev_deb=$(echo "$work"/debs/libparti-dev_"$version"-*.deb)
[ -f "$runtime_deb" ] || fail "no parti-node package of version $version in $work/debs"
[ -f "$dev_deb" ] || fail "no libparti-dev package of version $version in $work/debs"

# lintian takes most of this test's time (about 35 s, parsing readelf's account of libparti.a):
# it runs while the steps below do.
# -I: info tags too, so that an override whose tag no longer comes up (unused-override) is seen.
lintian -I --fail-on error,warning "$runtime_deb" "$dev_deb" >"$work/lintian.txt" 2>&1 &
lintian_pid=$!
# A step below that fails ends the test; lintian with it.
trap 'kill "$lintian_pid" 2>/dev/null || true' EXIT

step "control data"
dpkg-deb -e "$runtime_deb" "$work/control"
grep -qx /etc/parti/parti-node.ini "$work/control/conffiles" ||
  fail "/etc/parti/parti-node.ini is not a conffile"
for script in preinst postinst prerm postrm; do
  if [ -f "$work/control/$script" ] &&
    grep -E "deb-systemd-helper|deb-systemd-invoke|systemctl" "$work/control/$script"; then
    fail "the maintainer script $script touches the service"
  fi
done
if dpkg-deb -c "$runtime_deb" | grep -E "\.wants/|/etc/systemd/"; then
  fail "the package enables the service"
fi

step "extract into $root"
dpkg -x "$runtime_deb" "$root"
dpkg -x "$dev_deb" "$root"
"$root/usr/bin/parti-node" --version | grep -E "^parti-node $version " ||
  fail "parti-node --version does not print version $version"
"$root/usr/bin/parti-ctl" --help >"$work/ctl-help.txt" || fail "parti-ctl --help failed"
grep -q "consume-check" "$work/ctl-help.txt" || fail "parti-ctl --help printed no usage"
"$root/usr/bin/parti-consume" --version | grep -E "^parti-consume $version " ||
  fail "parti-consume --version does not print version $version"
# The conffile as shipped: every key known, every value valid. It names no partitions on
# purpose (the operator sets them), so the check gives some.
"$root/usr/bin/parti-node" --config-file="$root/etc/parti/parti-node.ini" --partitions=8 \
  --check-config >"$work/check-config.txt" ||
  fail "the packaged /etc/parti/parti-node.ini does not pass --check-config"

for program in parti-node parti-ctl parti-consume; do
  page=$root/usr/share/man/man1/$program.1.gz
  [ -f "$page" ] || fail "no manual page $page"
  # Every --flag of the help is in the page (groff escapes its dashes as \-).
  zcat "$page" | sed 's/\\-/-/g' >"$work/$program.1"
  for flag in $("$root/usr/bin/$program" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    grep -q -- "$flag" "$work/$program.1" || fail "the manual page of $program lacks $flag"
  done
done

step "consumer project against the extracted libparti-dev"
[ -f "$root/usr/lib/$multiarch/cmake/parti/partiConfig.cmake" ] ||
  fail "no CMake package in /usr/lib/$multiarch/cmake/parti"
cmake -DPARTI_PREFIX="$root/usr" -DCONSUMER_SOURCE_DIR="$source_dir/tests/install/consumer" \
  -DWORK_DIR="$work/consumer" -P "$source_dir/tests/install/run_consumer.cmake"

step "systemd unit"
unit=$root/lib/systemd/system/parti-node.service
[ -f "$unit" ] || fail "no /lib/systemd/system/parti-node.service"
grep -qx "ExecStart=/usr/bin/parti-node --config-file=/etc/parti/parti-node.ini" "$unit" ||
  fail "the unit's ExecStart is not /usr/bin/parti-node with /etc/parti/parti-node.ini"
grep -qx "DynamicUser=yes" "$unit" || fail "the unit does not run as DynamicUser"
documentation=$(sed -n 's#^Documentation=file://##p' "$unit")
[ -n "$documentation" ] && [ -f "$root$documentation" ] ||
  fail "the unit's Documentation= ($documentation) is not in the package"
if command -v systemd-analyze >/dev/null; then
  # The unit names /usr/bin/parti-node, which is not on this host: the copy verified here
  # names the extracted program instead (the line is checked above), and otherwise is the same.
  mkdir -p "$work/unit"
  sed "s#^ExecStart=/usr/bin/parti-node #ExecStart=$root/usr/bin/parti-node #" "$unit" \
    >"$work/unit/parti-node.service"
  verify_output=$(systemd-analyze verify "$work/unit/parti-node.service" 2>&1) ||
    fail "systemd-analyze verify failed:
$verify_output"
  # verify exits 0 on settings it ignores (a misspelt value): any message counts.
  [ -z "$verify_output" ] || fail "systemd-analyze verify complains:
$verify_output"
  echo "systemd-analyze verify: no complaint"
else
  echo "systemd-analyze not found: the unit is not verified"
fi
step "lintian"
lintian_result=0
wait "$lintian_pid" || lintian_result=$?
cat "$work/lintian.txt"
[ "$lintian_result" -eq 0 ] || fail "lintian reports errors or warnings (exit $lintian_result)"
if grep -E "unused-override|mismatched-override" "$work/lintian.txt"; then
  fail "packaging/lintian-overrides has overrides that match nothing"
fi
echo "packages ok: $(basename "$runtime_deb") $(basename "$dev_deb")"
