# An older kernel's plan on this one: MQTRACE_TEST_HIDE makes mqtrace believe the kernel lacks
# ustring and +u<offset> (before 5.3), so it plans as for 4.17-5.2: ":string" and "+0(...)" on user
# addresses. Run beside a normal run on the same calls, it must decode the same values (names byte
# for byte, structs, outputs, returns), with the same provenance. ($argN is not hidden: the plan
# names registers anyway, and without 6.9's $argN in return probes the outputs would be read after
# the call instead, as on 6.1: another decoding by design.)
# timeout: 300
. /scenarios/lib.sh
set -u
MQTRACE_TEST_HIDE=ustring,user_deref /bin/mqtrace --dry-run --backend kprobe > /tmp/old-plan.txt 2>&1 ||
  { cat /tmp/old-plan.txt; exit 1; }
grep "^echo '[pr]" /tmp/old-plan.txt | head -4
grep -q "^echo 'p.*:string" /tmp/old-plan.txt || { echo "the older plan reads no :string"; exit 1; }
if grep "^echo '[pr]" /tmp/old-plan.txt | grep -q 'ustring\|+u[0-9]'; then
  echo "the older plan still uses ustring or +u"; exit 1
fi
/bin/mqtrace --backend kprobe -f json -o /tmp/new.json 2>/tmp/new.err &
p1=$!
MQTRACE_TEST_HIDE=ustring,user_deref /bin/mqtrace --backend kprobe -f json -o /tmp/old.json 2>/tmp/old.err &
p2=$!
i=0
while ! { grep -q '^Tracing' /tmp/new.err && grep -q '^Tracing' /tmp/old.err; } && [ $i -lt 600 ]; do
  sleep 0.1; i=$((i+1))
done
cat /tmp/new.err /tmp/old.err
/bin/mqworkload all older >/dev/null
/bin/mqworkload --raw all older-raw >/dev/null
/bin/mqworkload errors older-err >/dev/null
sleep 1
kill -INT $p1 $p2; wait $p1; r1=$?; wait $p2; r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || { echo "exit statuses $r1 $r2"; exit 1; }
# The workload's calls, without what differs between two runs by nature (times, instance clocks).
# Output parameters are left out: a kernel without +u has no $argN in return probes either (6.9),
# so the older plan reads them after the call, each run at its own moment (a reused buffer or an
# exited process gives each its own value); the arguments and returns are what is compared.
# Descriptor context is left out too: where /proc gives it, each run looks at its own moment.
calls() { grep '"comm":"mqworkload"' "$1" | sed -E 's/"(time_ns|latency_ns)":[0-9]+,//g;
  s/,"queue":\{[^}]*\}//; s/,"out(_late|_info)?":.*$/}/'; }
calls /tmp/new.json > /tmp/new.calls; calls /tmp/old.json > /tmp/old.calls
n=$(wc -l < /tmp/new.calls)
echo "calls: $n (normal plan), $(wc -l < /tmp/old.calls) (older plan)"
[ "$n" -ge 60 ] || { echo "too few calls seen"; exit 1; }
grep -q '"name":"mqt-older' /tmp/old.calls || { echo "no name decoded by the older plan"; exit 1; }
# Names read at entry (the older plan's ":string" on a user address), then checked against the
# kernel's own copy (lookup_one_len) and found the same.
grep -q '"name":{"tags":\["K"\],"source":"kernel-copy","toctou":"verified"}' /tmp/old.calls ||
  { echo "names not read at entry and verified against the kernel's copy"; exit 1; }
diff /tmp/new.calls /tmp/old.calls || { echo "the older plan decodes differently"; exit 1; }
[ -z "$(leftovers)" ] || { echo "state left behind"; exit 1; }
echo "older features ok"
