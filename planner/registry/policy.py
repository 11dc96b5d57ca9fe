"""Rules for staff accounts: password policy, session lifetimes, login throttling, token expiry.

The registry (:class:`planner.registry.Registry`) stores users, sessions, tokens and login
failures; this module holds the numbers and the password rule it applies, so the web app,
the CLI and the documentation (docs/security.md) read them from one place.
"""

from __future__ import annotations

import unicodedata

#: Shortest accepted password, in characters.
MIN_PASSWORD_LENGTH = 10
#: Longest accepted password (werkzeug hashes any length; this bounds the work per login).
MAX_PASSWORD_LENGTH = 1024
#: A few of the most common passwords (and Chinese favourites); compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword
    1234567890 0123456789 12345678910 1234512345 1111111111 0000000000 1122334455 1234554321
    123456789a a123456789 qwertyuiop qwerty1234 qwerty12345 1q2w3e4r5t 1qaz2wsx3edc
    zaq12wsxcde iloveyou12 iloveyou123 welcome123 welcome1234 letmein123 admin12345
    administrator admin123456 changeme123 changeme12 abc1234567 abcd123456 abcdefghij
    woaini1314 woaini520 5201314520 1314520520 qazwsxedcr football123 sunshine123
    princess123 dragon1234 monkey12345 baseball123 superman123 trustno1234 yizhan12345
    mianyang123 sijizhijia driverhome
    """.split()
)

#: A staff session ends after this long without a request (seconds).
SESSION_IDLE_S = 12 * 3600
#: ... and this long after login whatever happens (seconds).
SESSION_ABSOLUTE_S = 7 * 24 * 3600
#: ``last_seen`` is written at most this often per session (seconds): not a write per request.
SESSION_TOUCH_S = 60

#: Default lifetime of an API bearer token (days); ``users token --days`` changes it.
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650

#: Failed logins allowed before a wait is imposed: per account name and per client address.
FREE_FAILURES = {"user": 5, "ip": 20}
#: First wait after the free failures (seconds); it doubles with each further failure.
LOCK_BASE_S = 2.0
#: Longest wait (seconds).
LOCK_MAX_S = 15 * 60
#: Failures are forgotten after this long without another one (seconds).
FAILURE_MEMORY_S = 3600


def password_problem(password: object, name: str | None = None) -> tuple[str, str] | None:
    """Why ``password`` is not acceptable for user ``name``, as (English, Chinese), or None.

    Rules: text of :data:`MIN_PASSWORD_LENGTH`-:data:`MAX_PASSWORD_LENGTH` characters, not
    only white space, not one of :data:`COMMON_PASSWORDS`, not the user name.
    """
    if not isinstance(password, str) or not password:
        return ("password must not be empty", "密码不能为空")
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"password must be at least {MIN_PASSWORD_LENGTH} characters long (got {len(password)}); "
                "a short sentence is easy to remember",
                f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符（当前 {len(password)} 个）；可用一句好记的短句")
    if len(password) > MAX_PASSWORD_LENGTH:
        return (f"password must be at most {MAX_PASSWORD_LENGTH} characters long",
                f"密码最多 {MAX_PASSWORD_LENGTH} 个字符")
    if not password.strip():
        return ("password must not be only spaces", "密码不能全是空格")
    if any(unicodedata.category(ch) == "Cs" for ch in password):
        return ("password contains invalid Unicode (a lone surrogate)", "密码含有无效的 Unicode 字符")
    folded = unicodedata.normalize("NFKC", password).strip().casefold()
    if folded in COMMON_PASSWORDS:
        return ("password is one of the most common passwords; choose another",
                "该密码过于常见，请换一个")
    if name and folded == unicodedata.normalize("NFKC", name).strip().casefold():
        return ("password must not be the user name", "密码不能与用户名相同")
    return None
