"""Kill a command's process tree when its anonymous memory passes a limit (the kernel's OOM killer would take
whatever it picks, possibly the session); print the peak anon and RSS seen, sampled every 0.5 s."""
import subprocess, sys, time, os, signal
import psutil
limit = float(sys.argv[1]) * 2**30
proc = subprocess.Popen(sys.argv[2:], start_new_session=True)
peak_anon = peak_rss = 0
killed = False
while proc.poll() is None:
    try:
        procs = [psutil.Process(proc.pid)] + psutil.Process(proc.pid).children(recursive=True)
        anon = rss = 0
        for p in procs:
            m = p.memory_full_info() if False else p.memory_info()
            with open(f"/proc/{p.pid}/status") as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
            anon += int(st.get("RssAnon", "0 kB").split()[0]) * 1024
            rss += m.rss
        peak_anon, peak_rss = max(peak_anon, anon), max(peak_rss, rss)
        if anon > limit:
            os.killpg(proc.pid, signal.SIGKILL); killed = True
    except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
        pass
    time.sleep(0.5)
print(f"watch: rc={proc.returncode} killed_at_limit={killed} peak_anon_gib={peak_anon/2**30:.2f} peak_rss_gib={peak_rss/2**30:.2f}", flush=True)
