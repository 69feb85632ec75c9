"""Settings, read from the environment.

``DJANGO_ENV=production`` turns on the production posture: it refuses to start without
``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS`` and passes ``manage.py check --deploy``.
Anything else is the development default: embedded PostgreSQL and an embedded broker under
``var/``, so a newcomer needs nothing installed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from ehe_register import embedded_db

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"


def _development_secret_key() -> str:
    """A per-checkout key kept under var/ (ignored by git), never used in production."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production."
        )
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list this service's host names in production.")
    DEBUG = False
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _development_secret_key()
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
    DEBUG = env.bool("DJANGO_DEBUG", default=True)

CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "pgtrigger",
    "pghistory",
    "django_fsm",
    "import_export",
    "django_celery_beat",
    "ehe_register",
    "workflows",
    "imports",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "ehe_register.accounts.middleware.TwoFactorRequiredMiddleware",
    "ehe_register.accounts.middleware.NoStoreForSignedInUsersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ehe_register.urls"
WSGI_APPLICATION = "ehe_register.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ehe_register.context_processors.service",
                "notifications.context_processors.unread_notifications",
            ],
        },
    }
]

# Database: DATABASE_URL, or the embedded server under var/ (started by `make run` / `make test`).
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    DATABASES = {"default": embedded_db.database_config()}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Each web and worker process keeps its connection between requests for this many seconds (0:
# a new connection for every request). Opening one costs both processes several milliseconds,
# more than most pages' queries (measured: 6 to 13 ms on the benchmark machine, five times in a
# school's submission); the health check above replaces a connection the database dropped.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("EHE_DB_CONN_MAX_AGE", default=60))
# PostgreSQL's JIT compiles any query whose estimated cost passes jit_above_cost. For the pages'
# short queries over a large LA it costs far more than it saves (measured: 2.7 s of compiling for a
# dashboard query that runs in 20 ms, at 100,000 children), so the product's connections have it
# off; a long batch job may turn it on for its own session (SET jit = on).
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["options"] = f"{_db_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "ehe_register.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:sign_in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:signed_out"

# Sessions end after inactivity: every request pushes the expiry forward.
SESSION_COOKIE_AGE = env.int("EHE_SESSION_IDLE_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Lockout (django-axes): a user name is locked at the address its failures came from, and an
# address trying many user names is locked at a higher limit (ehe_register/accounts/lockout.py).
AXES_FAILURE_LIMIT = env.int("EHE_LOCKOUT_FAILURES", default=5)
EHE_LOCKOUT_ADDRESS_FAILURES = env.int("EHE_LOCKOUT_ADDRESS_FAILURES", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("EHE_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "ehe_register.accounts.lockout.UserAtAddressLockoutHandler"
AXES_LOCKOUT_CALLABLE = "ehe_register.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "ehe_register.accounts.lockout.client_address"
# How many proxies in front of the service append to X-Forwarded-For (the TLS proxy in production).
EHE_TRUSTED_PROXIES = env.int(
    "EHE_TRUSTED_PROXIES", default=1 if PRODUCTION and env.bool("DJANGO_BEHIND_TLS_PROXY", default=True) else 0
)
AXES_RESET_ON_SUCCESS = True
SILENCED_SYSTEM_CHECKS: list[str] = []
AXES_VERBOSE = False

# Two-factor authentication for LA staff (django-otp TOTP).
EHE_REQUIRE_2FA = env.bool("EHE_REQUIRE_2FA", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("EHE_OTP_ISSUER", default="EHE register")
# How long an administrator's one-time link to set up two-factor sign-in works.
EHE_ENROLMENT_LINK_HOURS = env.int("EHE_ENROLMENT_LINK_HOURS", default=72)

# Content Security Policy: no inline scripts or styles anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "var" / "static_build"]  # ehe_register/static/ is found as an app directory
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Celery: Redis (or any broker) from CELERY_BROKER_URL, else kombu's filesystem broker under var/.
# Every folder kombu would otherwise make relative to the working directory (``data_in``,
# ``data_out``, ``processed``, ``control`` for the exchange tables) is named here, under var/.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dirs = {
        "data_folder_in": VAR_DIR / "celery" / "queue",
        "data_folder_out": VAR_DIR / "celery" / "queue",
        "processed_folder": VAR_DIR / "celery" / "processed",
        "control_folder": VAR_DIR / "celery" / "control",
    }
    for _folder in _broker_dirs.values():
        _folder.mkdir(parents=True, exist_ok=True)  # kombu makes none of them with their parents
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **{option: str(folder) for option, folder in _broker_dirs.items()},
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Email: EMAIL_URL (smtp://user:password@host:587/?tls=True) in production; files under var/mail otherwise.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ehe-register@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Escalation sweeps and the outbox (workflows.sweeps, notifications.delivery).
EHE_SWEEP_MINUTES = env.int("EHE_SWEEP_MINUTES", default=15)
EHE_SWEEP_BATCH = env.int("EHE_SWEEP_BATCH", default=5000)  # episodes per chunk (one transaction each)
EHE_MESSAGE_PUSH = env.bool("EHE_MESSAGE_PUSH", default=True)  # hand new emails to a worker on commit
EHE_BROKER_RETRY_AFTER_SECONDS = env.int("EHE_BROKER_RETRY_AFTER_SECONDS", default=30)
EHE_BROKER_TIMEOUT_SECONDS = env.int("EHE_BROKER_TIMEOUT_SECONDS", default=2)
EHE_DELIVERY_LEASE_SECONDS = env.int("EHE_DELIVERY_LEASE_SECONDS", default=300)
EHE_DELIVERY_BACKOFF_SECONDS = env.int("EHE_DELIVERY_BACKOFF_SECONDS", default=60)
EHE_DELIVERY_BACKOFF_MAX_SECONDS = env.int("EHE_DELIVERY_BACKOFF_MAX_SECONDS", default=6 * 3600)
EHE_DELIVERY_MAX_ATTEMPTS = env.int("EHE_DELIVERY_MAX_ATTEMPTS", default=8)
EHE_DELIVERY_BATCH = env.int("EHE_DELIVERY_BATCH", default=100)
EHE_DELIVERY_BATCHES_PER_RUN = env.int("EHE_DELIVERY_BATCHES_PER_RUN", default=20)
# Tests only: the point at which notifications.delivery ends the worker process. Never in production.
EHE_TEST_CRASH_POINT = "" if PRODUCTION else env.str("EHE_TEST_CRASH_POINT", default="")

# Off-roll notifications one school user may submit in an hour (a flood guard); 0 turns it off.
EHE_NOTIFICATIONS_PER_HOUR = env.int("EHE_NOTIFICATIONS_PER_HOUR", default=30)

# Imports (imports/services.py): where uploads are kept (shared by web and workers), the largest file
# taken, how many rows one transaction writes, the largest file imported in the request rather than
# by a worker, and how many row errors are kept per file (the count is always exact).
EHE_IMPORT_DIR = env.str("EHE_IMPORT_DIR", default=str(VAR_DIR / "imports"))
EHE_IMPORT_MAX_BYTES = env.int("EHE_IMPORT_MAX_MB", default=50) * 1024 * 1024
EHE_IMPORT_CHUNK_ROWS = env.int("EHE_IMPORT_CHUNK_ROWS", default=1000)
EHE_IMPORT_INLINE_ROWS = env.int("EHE_IMPORT_INLINE_ROWS", default=200)
# A file larger than this is checked (the preview) by a worker, with a progress bar; about 9,000
# rows of off-roll notifications, a few seconds' work in the request.
EHE_IMPORT_PREVIEW_INLINE_BYTES = env.int("EHE_IMPORT_PREVIEW_INLINE_KB", default=2048) * 1024
EHE_IMPORT_ERRORS_KEPT = env.int("EHE_IMPORT_ERRORS_KEPT", default=1000)

EHE_SERVICE_NAME = env.str("EHE_SERVICE_NAME", default="Elective home education register")
EHE_PHASE = env.str("EHE_PHASE", default="beta")
EHE_BASE_URL = env.str("EHE_BASE_URL", default="http://localhost:8000")

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # HSTS preload lists the whole domain in browsers for good: that is the council's domain
        # owner's decision, not this service's, so the check is silenced unless they opt in.
        SILENCED_SYSTEM_CHECKS += ["security.W021"]
    if env.bool("DJANGO_BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},
}

FORM_RENDERER = "ehe_register.forms_rendering.GovukFormRenderer"
# Development serves assets straight from the finders; production from collectstatic's manifest.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
