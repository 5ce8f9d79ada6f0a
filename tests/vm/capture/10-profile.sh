# Record the kernel profile (tracefs README, files, symbols, events) of the VM's kernel.
set -eu
/bin/mqtrace --record-profile /tmp/profile
tar cf /tmp/profile.tar -C /tmp profile
mqt_export /tmp/profile.tar profile.tar
