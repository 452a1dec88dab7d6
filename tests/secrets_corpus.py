"""A corpus of realistic FAKE secrets in realistic contexts, shared by redaction tests.

Secrets are assembled from pieces with a seeded generator so this file holds no literal
that a secret scanner would flag, yet each has the real prefix, length and alphabet.
"""

from __future__ import annotations

import base64
import json
import random
import string

__all__ = ["fake_secrets"]

_ALNUM = string.ascii_letters + string.digits
_UPPER_DIGITS = string.ascii_uppercase + string.digits
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "-_"


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    # Guarantee upper, lower and digit where the alphabet has them (as real keys do).
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        classes = [any(c.isupper() for c in s), any(c.islower() for c in s), any(c.isdigit() for c in s)]
        wanted = [
            any(c.isupper() for c in alphabet),
            any(c.islower() for c in alphabet),
            any(c.isdigit() for c in alphabet),
        ]
        if classes == wanted:
            return s


def _jwt(rng: random.Random) -> str:
    def seg(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    sig = _rand(rng, _URLSAFE, 43)
    return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg({'sub': '1234567890', 'name': 'Ada', 'iat': 1516239022})}.{sig}"


def _pem(rng: random.Random, kind: str) -> str:
    body = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(300))).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    label = f"{kind} PRIVATE KEY".strip()
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"


def fake_secrets() -> list[tuple[str, str, str]]:
    """``(type, secret, context_template)`` triples.

    Each template contains ``{secret}`` once or more; fill it with ``str.replace`` (templates
    hold JSON braces, so not ``str.format``).
    """
    rng = random.Random(20240611)
    aws_id = "AKIA" + _rand(rng, _UPPER_DIGITS, 16)
    aws_sts = "ASIA" + _rand(rng, _UPPER_DIGITS, 16)
    aws_secret = _rand(rng, _B64, 40)
    ghp = "ghp" + "_" + _rand(rng, _ALNUM, 36)
    gho = "gho" + "_" + _rand(rng, _ALNUM, 36)
    ghs = "ghs" + "_" + _rand(rng, _ALNUM, 36)
    gh_pat = "github" + "_pat_" + _rand(rng, _ALNUM, 22) + "_" + _rand(rng, _ALNUM, 59)
    glpat = "glpat" + "-" + _rand(rng, _ALNUM, 20)
    openai_legacy = "sk" + "-" + _rand(rng, _ALNUM, 48)
    openai_proj = "sk" + "-proj-" + _rand(rng, _URLSAFE, 120)
    anthropic = "sk" + "-ant-api03-" + _rand(rng, _URLSAFE, 93) + "AA"
    slack_bot = (
        "xox"
        + "b-"
        + "".join(rng.choice(string.digits) for _ in range(12))
        + "-"
        + "".join(rng.choice(string.digits) for _ in range(13))
        + "-"
        + _rand(rng, _ALNUM, 24)
    )
    slack_user = "xox" + "p-" + "".join(rng.choice(string.digits) for _ in range(12)) + "-" + _rand(rng, _ALNUM, 32)
    slack_hook = (
        "https://hooks.slack"
        + ".com/services/T"
        + _rand(rng, _UPPER_DIGITS, 8)
        + "/B"
        + _rand(rng, _UPPER_DIGITS, 8)
        + "/"
        + _rand(rng, _ALNUM, 24)
    )
    stripe_live = "sk" + "_live_" + _rand(rng, _ALNUM, 24)
    stripe_test = "sk" + "_test_" + _rand(rng, _ALNUM, 24)
    stripe_rk = "rk" + "_live_" + _rand(rng, _ALNUM, 24)
    google = "AI" + "za" + _rand(rng, _URLSAFE, 35)
    jwt = _jwt(rng)
    rsa = _pem(rng, "RSA")
    pkcs8 = _pem(rng, "")
    openssh = _pem(rng, "OPENSSH")
    bearer = _rand(rng, _ALNUM + "._-", 40)
    url_pw = _rand(rng, _ALNUM, 18)
    redis_pw = _rand(rng, _ALNUM, 24)
    db_pw = "Tr0ub4dor&3" + _rand(rng, _ALNUM, 6)
    yaml_pw = "hunter2" + _rand(rng, _ALNUM, 10)
    json_token = _rand(rng, _ALNUM, 32)
    env_secret = _rand(rng, _ALNUM, 30)
    high_entropy = _rand(rng, _ALNUM, 32)
    high_entropy2 = _rand(rng, _B64, 44)
    return [
        (
            "aws_access_key",
            aws_id,
            '{"tool": "exec", "args": {"command": "aws configure set aws_access_key_id {secret}"}}',
        ),
        ("aws_access_key", aws_sts, "[default]\nregion = eu-west-1\naws_access_key_id = {secret}\n"),
        ("aws_secret_key", aws_secret, "[default]\naws_secret_access_key = {secret}\n"),
        ("aws_secret_key", aws_secret, "export AWS_SECRET_ACCESS_KEY={secret}\n"),
        ("github_token", ghp, "git clone https://x-access-token:{secret}@github.com/acme/app.git"),
        ("github_token", gho, '{"oauth_token": "{secret}", "user": "octocat"}'),
        ("github_token", ghs, "GH_TOKEN={secret} gh pr list"),
        ("github_token", gh_pat, "github.com:\n    oauth_token: {secret}\n    user: octocat\n"),
        ("gitlab_token", glpat, "curl --header 'PRIVATE-TOKEN: {secret}' https://gitlab.example.com/api/v4/projects"),
        ("openai_key", openai_legacy, "OPENAI_API_KEY={secret}\nDEBUG=1\n"),
        ("openai_key", openai_proj, 'client = OpenAI(api_key="{secret}")'),
        (
            "anthropic_key",
            anthropic,
            '{"name": "exec", "arguments": {"cmd": "export ANTHROPIC_API_KEY={secret} && claude"}}',
        ),
        ("anthropic_key", anthropic, "curl https://api.anthropic.com/v1/messages -H 'x-api-key: {secret}'"),
        ("slack_token", slack_bot, "SLACK_BOT_TOKEN={secret}"),
        ("slack_token", slack_user, 'slack:\n  token: "{secret}"\n'),
        ("slack_token", slack_hook, """curl -X POST -d '{"text": "deploy done"}' {secret}"""),
        ("stripe_key", stripe_live, "stripe.api_key = '{secret}'"),
        ("stripe_key", stripe_test, "STRIPE_SECRET_KEY={secret}\n"),
        ("stripe_key", stripe_rk, '{"restricted_key": "{secret}"}'),
        ("google_api_key", google, "https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key={secret}"),
        ("jwt", jwt, "curl -H 'Authorization: Bearer {secret}' https://api.example.com/me"),
        ("jwt", jwt, '{"headers": {"Cookie": "session={secret}"}}'),
        ("private_key", rsa, "cat ~/.ssh/id_rsa\n{secret}\n"),
        ("private_key", pkcs8, "{secret}"),
        ("private_key", openssh, "key: |\n{secret}\nnext: 1\n"),
        ("bearer_token", bearer, "curl -H 'Authorization: Bearer {secret}' https://api.example.com/v1/items"),
        ("bearer_token", bearer, '{"headers": {"authorization": "bearer {secret}"}}'),
        ("url_password", url_pw, "psql postgres://admin:{secret}@db.internal:5432/prod"),
        ("url_password", redis_pw, "REDIS_URL=redis://:{secret}@cache.internal:6379/0"),
        ("assignment_secret", db_pw, "DB_PASSWORD={secret}\nDB_HOST=localhost\n"),
        ("assignment_secret", yaml_pw, "database:\n  user: app\n  password: {secret}\n"),
        ("assignment_secret", json_token, '{"tool": "http", "args": {"url": "https://x", "auth_token": "{secret}"}}'),
        ("assignment_secret", env_secret, "export CLIENT_SECRET='{secret}'"),
        ("high_entropy", high_entropy, "SESSION_SALT={secret}\n"),
        ("high_entropy", high_entropy2, 'config.signing = "x"\nSIGNING_MATERIAL="{secret}"\n'),
    ]
