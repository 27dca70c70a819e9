"""Reject bad answers with a one-line reason before cookiecutter writes any file."""

import re
import sys

# The model/stage name grammar of the tag format. The helper's model_registry.tags.NAME_PATTERN
# is the source of truth; hooks run before the helper exists, so a template test pins the two
# equal.
NAME_PATTERN = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"

ANSWERS = {
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "remote": {{ cookiecutter.remote | tojson }},
    "local_remote_path": {{ cookiecutter.local_remote_path | tojson }},
    "s3_url": {{ cookiecutter.s3_url | tojson }},
    "s3_endpoint_url": {{ cookiecutter.s3_endpoint_url | tojson }},
    "stages": {{ cookiecutter.stages | tojson }},
    "contact_email": {{ cookiecutter.contact_email | tojson }},
}


def problems(answers):
    """Every reason the answers cannot make a working registry (empty: they can)."""
    found = []
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", answers["project_slug"]):
        found.append(f"project_slug {answers['project_slug']!r}: use lower-case letters, "
                     "digits, '.', '_' and '-', starting with a letter or digit")
    stages = [s.strip() for s in answers["stages"].split(",")]
    if not all(stages) or len(set(stages)) != len(stages):
        found.append(f"stages {answers['stages']!r}: give distinct names separated by commas")
    for stage in stages:
        if stage and not re.fullmatch(NAME_PATTERN, stage):
            found.append(f"stage {stage!r}: use letters, digits, '-', '_' and '/', starting "
                         "and ending with a letter or digit")
    if answers["remote"] == "local":
        path = answers["local_remote_path"]
        if not (path.startswith("/") or path.startswith("~/")) or any(c in path for c in "\n\r"):
            found.append(f"local_remote_path {path!r}: use an absolute path or ~/..., so every "
                         "clone on this machine finds the same storage")
    else:
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", answers["s3_url"]):
            found.append(f"s3_url {answers['s3_url']!r}: use s3://bucket or s3://bucket/prefix "
                         "with a valid bucket name")
        endpoint = answers["s3_endpoint_url"]
        if endpoint and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", endpoint):
            found.append(f"s3_endpoint_url {endpoint!r}: use http(s)://host[:port], or leave it "
                         "empty for AWS")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", answers["contact_email"]):
        found.append(f"contact_email {answers['contact_email']!r}: give an e-mail address")
    return found


if __name__ == "__main__":
    reasons = problems(ANSWERS)
    if reasons:
        print(f"error: {reasons[0]}", file=sys.stderr)
        sys.exit(1)
