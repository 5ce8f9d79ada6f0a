# Harness self-test: export a binary file to the host; print its md5 for the host to compare.
set -eu
head -c 3000 /dev/urandom > blob.bin
printf '\000\377\r\n' >> blob.bin            # make sure NUL, 0xff, CR and LF survive
mqt_export blob.bin blob.bin
echo "blob md5 $(/bin/md5sum < blob.bin | cut -d' ' -f1) size $(wc -c < blob.bin)"
/bin/md5sum --version 2>/dev/null | head -n1 || true   # "GNU coreutils" if --bin /usr/bin/md5sum; busybox sh prefers its applets to /bin files
