cd /work/wt/issue14
. /work/main/.venv/bin/activate; export PYTHONPATH=$PWD VCAMSTYLE_NO_SYSTEMD=1 XDG_RUNTIME_DIR=/tmp/rt XDG_STATE_HOME=/tmp/st XDG_CONFIG_HOME=/tmp/cfg; mkdir -p -m 700 /tmp/rt
t0=$(date +%s.%N); python -c "import torch, cv2"; t1=$(date +%s.%N); echo "import torch: $(echo "$t1-$t0"|bc)"
python -m vcamstyle start -c .e2e-explore/config.yaml; t2=$(date +%s.%N); echo "start: $(echo "$t2-$t1"|bc) rc=$?"
v4l2-ctl -d /dev/video10 --get-fmt-video --info | head -30
timeout 60 v4l2-ctl -d /dev/video10 --stream-mmap --stream-count 10 --stream-to /tmp/f.raw; ls -l /tmp/f.raw
python -m vcamstyle status --json
python -m vcamstyle doctor 2>&1 | grep -i virtual
python -m vcamstyle stop; t3=$(date +%s.%N); echo "stop: $(echo "$t3-$t2"|bc)"
tail -20 /tmp/st/vcamstyle/vcamstyle.log
