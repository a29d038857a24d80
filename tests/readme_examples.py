"""Runs every command of README's "Quick start" against a live `emosense serve`, as written: each must exit 0 and
print output (or write it to the file it redirects to), and every JSON value it prints must be an answer, not an
error. What is not run: the `cargo` lines
(building and testing are what CI does anyway) and `emosense eval*` (minutes each, on ../shared/data). The one
change made to a command is the server's address: `localhost:8080` becomes the port the test server got.

    python3 tests/readme_examples.py [BINARY=target/debug/emosense]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def commands(readme):
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    out = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        pending = ""
        for line in block.splitlines():
            pending += line + "\n"
            if line.rstrip().endswith(("\\", "|")):
                continue
            command = pending.strip()
            pending = ""
            if command and not command.startswith(("cargo ", "emosense eval")):
                out.append(command)
    return out


def answers(stdout):
    """Every JSON value printed: one document, or one per line."""
    try:
        return [json.loads(stdout)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target/debug/emosense"))
    env = dict(os.environ, PATH=os.path.dirname(binary) + os.pathsep + os.environ["PATH"])
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0"], cwd=REPO, env=env, stderr=log)
    try:
        address = None
        for _ in range(600):
            log.seek(0)
            found = re.search(r"serving on http://(\S+)", log.read())
            if found:
                address = found.group(1)
                break
            if server.poll() is not None:
                break
            subprocess.run(["sleep", "0.1"])
        if not address:
            log.seek(0)
            sys.exit(f"the server did not start:\n{log.read()}")
        passed = failed = 0
        for command in commands(open(os.path.join(REPO, "README.md")).read()):
            run = command.replace("localhost:8080", address)
            done = subprocess.run(["bash", "-o", "pipefail", "-c", run], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
            problem = None
            # A command whose output goes to a file is judged by that file.
            redirected = re.search(r"(?<![<2])>\s*(\S+)", run.split("#", 1)[0])
            if redirected and done.returncode == 0:
                with open(redirected.group(1)) as f:
                    done.stdout = f.read()
            if done.returncode != 0:
                problem = f"exit {done.returncode}: {done.stderr.strip()[-500:]}"
            elif not done.stdout.strip():
                problem = "printed nothing"
            else:
                try:
                    errors = [a for a in answers(done.stdout) if isinstance(a, dict) and "error" in a]
                    if errors:
                        problem = f"answered an error: {json.dumps(errors[0])[:500]}"
                except json.JSONDecodeError as e:
                    problem = f"printed something that is not JSON ({e}): {done.stdout[:200]!r}"
            first_line = command.splitlines()[0][:100]
            if problem:
                failed += 1
                print(f"FAIL {first_line}\n     {problem}")
            else:
                passed += 1
                print(f"ok   {first_line}")
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed or passed == 0 else 0)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
