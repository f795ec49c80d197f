"""`docker` for cloudbuild.yaml's docker steps run here (`make cloudbuild`): the docker commands
those steps use, done with buildah, pushing to a local OCI store instead of Artifact Registry.

    docker build [--pull] [--build-arg K=V]... [--label K=V]... [--file F] [--tag T]... CONTEXT
    docker push [--all-tags] IMAGE
    docker pull IMAGE
    docker inspect --format '{{index .RepoDigests 0}}' IMAGE

What no registry here serves is replaced at build time, from STANDIN_BUILD_ARGS (JSON): the pinned
Python image (PYTHON_IMAGE) and the IB Gateway and IBC downloads (deploy/images/standins.py).
CLOUDBUILD_REGISTRY is the local store's folder. Anything else is refused with a clear error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

DIGEST_FORMAT = "{{index .RepoDigests 0}}"


def _fail(message: str) -> int:
    print(f"docker (buildah stand-in): {message}", file=sys.stderr)
    return 1


def _buildah(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], text=True, capture_output=capture, check=False)


def _declared_args(dockerfile: Path) -> set[str]:
    pattern = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
    return set(pattern.findall(dockerfile.read_text()))


def build(args: list[str]) -> int:
    tags, labels, build_args = [], [], []
    dockerfile, context, pull = "Dockerfile", None, False
    i = 0
    while i < len(args):
        arg = args[i]
        key, eq, value = arg.partition("=")
        if key in ("--tag", "-t", "--label", "--build-arg", "--file", "-f") and not eq:
            if i + 1 >= len(args):
                return _fail(f"{arg} needs a value")
            value, i = args[i + 1], i + 1
        if key in ("--tag", "-t"):
            tags.append(value)
        elif key == "--label":
            labels.append(value)
        elif key == "--build-arg":
            build_args.append(value)
        elif key in ("--file", "-f"):
            dockerfile = value
        elif arg == "--pull":
            pull = True
        elif arg.startswith("-"):
            return _fail(f"docker build {arg} is not supported here")
        elif context is None:
            context = arg
        else:
            return _fail("docker build takes one context")
        i += 1
    if context is None:
        return _fail("docker build needs a context")
    path = Path(dockerfile) if dockerfile != "Dockerfile" else Path(context) / "Dockerfile"
    declared = _declared_args(path)
    given = {pair.partition("=")[0] for pair in build_args}
    standins = json.loads(os.environ.get("STANDIN_BUILD_ARGS", "{}"))
    for key, value in standins.items():
        if key in declared and key not in given:
            build_args.append(f"{key}={value}")
    if pull:
        print("docker build --pull: no registry here; the base images are the local ones")
    command = ["bud", "--isolation", "chroot", "--layers", "--force-rm", "--network", "host"]
    command += ["--format", "docker", "--pull-never", "-f", str(path)]  # SHELL as Docker has it
    ignore = Path(f"{path}.dockerignore")  # BuildKit's per-Dockerfile ignore file
    if ignore.is_file():
        command += ["--ignorefile", str(ignore)]
    for tag in tags:
        command += ["-t", tag]
    for label in labels:
        command += ["--label", label]
    for pair in build_args:
        command += ["--build-arg", pair]
    return _buildah(*command, context).returncode


def _store(image: str) -> tuple[Path, str]:
    """The local store's OCI layout for the image's repository, and the tag."""
    repository, _, tag = image.rpartition(":")
    if "/" in tag or not repository:
        repository, tag = image, "latest"
    registry = Path(os.environ.get("CLOUDBUILD_REGISTRY", "build/cloudbuild/registry"))
    return registry / repository.replace("/", "_"), tag


def _local_tags(repository: str) -> list[str]:
    listed = _buildah("images", "--format", "{{.Name}}:{{.Tag}}", capture=True).stdout.split()
    return [name for name in listed if name.rpartition(":")[0] == repository]


def push(args: list[str]) -> int:
    all_tags = "--all-tags" in args or "-a" in args
    images = [a for a in args if not a.startswith("-")]
    if len(images) != 1:
        return _fail("docker push takes one image")
    targets = _local_tags(images[0]) if all_tags else images
    if not targets:
        return _fail(f"no local image {images[0]} to push")
    for image in targets:
        layout, tag = _store(image)
        layout.parent.mkdir(parents=True, exist_ok=True)
        done = _buildah("push", "--quiet", "-D", image, f"oci:{layout}:{tag}")
        if done.returncode != 0:
            return done.returncode
        print(f"pushed {image} to the local store {layout}")
    return 0


def pull(args: list[str]) -> int:
    images = [a for a in args if not a.startswith("-")]
    if len(images) != 1:
        return _fail("docker pull takes one image")
    image = images[0]
    if _buildah("inspect", "--type", "image", image, capture=True).returncode == 0:
        print(f"{image}: present")
        return 0
    layout, tag = _store(image)
    if not layout.is_dir():
        return _fail(f"{image} is neither built here nor in the local store")
    done = _buildah("pull", "--quiet", f"oci:{layout}:{tag}", capture=True)
    if done.returncode != 0:
        return _fail(f"pulling {image} from the local store failed: {done.stderr.strip()}")
    return _buildah("tag", done.stdout.strip(), image).returncode


def inspect(args: list[str]) -> int:
    if len(args) != 3 or args[0] != "--format" or args[1] != DIGEST_FORMAT:
        return _fail(f"only docker inspect --format '{DIGEST_FORMAT}' IMAGE is supported")
    image = args[2]
    done = _buildah("inspect", "--type", "image", image, capture=True)
    if done.returncode != 0:
        return _fail(f"no image {image}")
    digest = json.loads(done.stdout)["FromImageDigest"]
    repository = image.rpartition(":")[0] if ":" in image.rpartition("/")[2] else image
    print(f"{repository}@{digest}")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        return _fail("usage: docker build|push|pull|inspect ...")
    verbs = {"build": build, "push": push, "pull": pull, "inspect": inspect}
    verb = verbs.get(argv[0])
    if verb is None:
        return _fail(f"docker {argv[0]} is not one of {', '.join(verbs)}")
    return verb(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
