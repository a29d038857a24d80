"""Lambda cold start under cargo-lambda's runtime emulator: time from starting a function's release `bootstrap` to
its first answer (model load included), then warm invocations, plus each function's zip size.
Build first with `tools/lambda/build.sh`; needs cargo-lambda on PATH.

    python3 tools/bench/lambda_cold_start.py [--runs 5]
    FUNCTION=analyze-audio EVENT=apigw-v2-analyze-audio.json python3 tools/bench/lambda_cold_start.py
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PORT = 9417
LAMBDA_DIR = os.path.join(REPO, os.environ.get("CARGO_TARGET_DIR", "target"), "lambda")
EVENT = os.path.join(REPO, "tests", "data", "lambda", os.environ.get("EVENT", "apigw-v2-analyze-text.json"))
FUNCTION = os.environ.get("FUNCTION", "analyze-text")


def invoke(function, payload):
    # With --only-lambda-apis the emulator serves one function, named "_".
    url = f"http://127.0.0.1:{PORT}/2015-03-31/functions/{function}/invocations"
    request = urllib.request.Request(url, data=payload, method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=50)
    args = parser.parse_args()
    payload = open(EVENT, "rb").read()
    emulator = subprocess.Popen(["cargo", "lambda", "watch", "--only-lambda-apis", "-P", str(PORT)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in emulator.stdout:
            if "starting Runtime server" in line:
                break
        function_dir = os.path.join(LAMBDA_DIR, FUNCTION)
        env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{PORT}/.rt", AWS_LAMBDA_FUNCTION_NAME="_",
                   AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024")
        cold, warm = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            function = subprocess.Popen([os.path.join(function_dir, "bootstrap")], cwd=function_dir, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            answer = invoke("_", payload)
            cold.append((time.perf_counter() - started) * 1000)
            assert answer["statusCode"] == 200, answer
            for _ in range(args.warm):
                t = time.perf_counter()
                invoke("_", payload)
                warm.append((time.perf_counter() - t) * 1000)
            function.kill()
            function.wait()
        warm.sort()
        zips = {f: round(os.path.getsize(os.path.join(LAMBDA_DIR, f + ".zip")) / 2**20, 1)
                for f in ("analyze-text", "analyze-batch", "analyze-audio", "health", "models")}
        print(json.dumps({"cold_start_ms": {"median": round(statistics.median(cold), 1), "max": round(max(cold), 1), "runs": args.runs},
                          "warm_invoke_ms": {"p50": round(warm[len(warm) // 2], 2), "p95": round(warm[int(len(warm) * 0.95)], 2)},
                          "zip_mb": zips}))
    finally:
        os.killpg(emulator.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
