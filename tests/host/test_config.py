"""Configuration: defaults, system file, user file, environment; clear errors; logs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from host import config
from host.origins import OriginError, normalize_origin
from tests.host.conftest import auth_args
from tests.testbed.hostproc import HostProcess


@pytest.fixture
def files(tmp_path, monkeypatch):
    system, user = tmp_path / "system.json", tmp_path / "user.json"
    monkeypatch.setenv("CPSBRIDGE_SYSTEM_CONFIG", str(system))
    monkeypatch.setenv("CPSBRIDGE_USER_CONFIG", str(user))
    for var in ("CPSBRIDGE_PKCS11_MODULE", "CPSBRIDGE_ALLOWED_ORIGINS", "CPSBRIDGE_LOG_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    return system, user


def test_defaults_are_the_cryptolib_then_opensc_and_production_origins(files):
    s = config.load()
    assert s.pkcs11Modules[0] == "/usr/lib64/libcps3_pkcs11_lux.so"
    assert "/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so" in s.pkcs11Modules
    assert any("opensc-pkcs11" in m for m in s.pkcs11Modules)
    assert s.allowedOrigins == ["https://trajectoire.sante-ra.fr"]
    assert config.default_modules("win32")[0].endswith("cps3_pkcs11_w64.dll")
    assert config.default_modules("darwin")[0] == "/usr/local/lib/libcps3_pkcs11_osx.dylib"


def test_later_sources_win(files, monkeypatch):
    system, user = files
    system.write_text(json.dumps({"allowedOrigins": ["https://a.example"], "logLevel": "debug"}))
    user.write_text(json.dumps({"allowedOrigins": ["https://b.example:8443"]}))
    s = config.load()
    assert (s.allowedOrigins, s.logLevel) == (["https://b.example:8443"], "DEBUG")
    monkeypatch.setenv("CPSBRIDGE_ALLOWED_ORIGINS", "https://c.example, https://d.example:443")
    monkeypatch.setenv("CPSBRIDGE_PKCS11_MODULE", "/opt/x.so")
    s = config.load()
    assert s.allowedOrigins == ["https://c.example", "https://d.example"]
    assert s.pkcs11Modules == ["/opt/x.so"]


@pytest.mark.parametrize("written, level", [
    ("warn", "WARNING"), ("Critical", "CRITICAL"), ("FATAL", "CRITICAL"), (" info ", "INFO")])
def test_log_levels_take_the_spellings_python_logging_takes(files, monkeypatch, written, level):
    monkeypatch.setenv("CPSBRIDGE_LOG_LEVEL", written)
    assert config.load().logLevel == level


def test_an_origin_written_with_a_final_slash_is_that_origin(files, monkeypatch):
    _, user = files
    user.write_text(json.dumps({"allowedOrigins": ["https://a.example/", "https://b.example:8443/"]}))
    assert config.load().allowedOrigins == ["https://a.example", "https://b.example:8443"]
    monkeypatch.setenv("CPSBRIDGE_ALLOWED_ORIGINS", "https://c.example/")
    assert config.load().allowedOrigins == ["https://c.example"]
    monkeypatch.setenv("CPSBRIDGE_ALLOWED_ORIGINS", "https://c.example/x/")  # a path stays refused
    with pytest.raises(config.ConfigError, match=re.escape(
            "Configuration invalide (variable d'environnement CPSBRIDGE_ALLOWED_ORIGINS) : "
            "origine refusée 'https://c.example/x/'")):
        config.load()


@pytest.mark.parametrize("variable, value, problem", [
    ("CPSBRIDGE_LOG_LEVEL", "LOUD", "une valeur parmi DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("CPSBRIDGE_ALLOWED_ORIGINS", "http://a.example", "origine refusée 'http://a.example'"),
])
def test_a_bad_environment_variable_is_named(files, monkeypatch, variable, value, problem):
    """IT set a variable, not a key: the message names the variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(config.ConfigError) as exc:
        config.load()
    assert str(exc.value).startswith(
        f"Configuration invalide (variable d'environnement {variable}) : {problem}"), exc.value


@pytest.mark.parametrize("content, key, problem", [
    ('{"allowedOrigins": ["http://insecure.example"]}', "allowedOrigins",
     "origine refusée 'http://insecure.example' : seules les origines https"),
    ('{"allowedOrigins": "https://a.example"}', "allowedOrigins",
     "une liste de chaînes non vides est attendue"),
    ('{"pkcs11Modules": [""]}', "pkcs11Modules", "une liste de chaînes non vides est attendue"),
    ('{"logLevel": "LOUD"}', "logLevel", "une valeur parmi DEBUG"),
    ('{"cardTypePolicies": {"1.2.3": "XYZ"}}', "cardTypePolicies", "un objet OID -> "),
    ('{"alowedOrigins": []}', "alowedOrigins", "clé inconnue"),
    # Where the JSON breaks off, as the parser says it.
    ('{"allowedOrigins": [', None, "JSON invalide (Expecting value: line 1 column 21"),
    ('[1]', None, "un objet JSON est attendu"),
])
def test_a_bad_file_names_itself_and_the_key(files, content, key, problem):
    _, user = files
    user.write_text(content)
    with pytest.raises(config.ConfigError) as exc:
        config.load()
    assert str(user) in str(exc.value)
    assert exc.value.problem.startswith(problem), exc.value.problem
    assert f" : {problem}" in str(exc.value)
    if key:
        assert f"« {key} »" in str(exc.value)
    else:
        assert "clé «" not in str(exc.value)


@pytest.mark.parametrize("origin, canonical", [
    ("https://trajectoire.sante-ra.fr", "https://trajectoire.sante-ra.fr"),
    ("HTTPS://Trajectoire.Sante-RA.fr:443", "https://trajectoire.sante-ra.fr"),
    ("https://localhost:8443", "https://localhost:8443"),
    ("wss://localhost:8443", "wss://localhost:8443"),
    ("https://[::1]:8443", "https://[::1]:8443"),
])
def test_origins_are_canonical(origin, canonical):
    assert normalize_origin(origin) == canonical


SHAPE = "une origine est schéma://hôte"


@pytest.mark.parametrize("origin, why", [
    ("http://a.example", "seules les origines https"), ("https://a.example/", SHAPE),
    ("https://a.example/x", SHAPE), ("https://u:p@a.example", SHAPE),
    ("https://a.example:0", "port invalide"), ("https://a.example:65536", "port invalide"),
    ("https://a.example:08443", "port invalide"), ("https://", SHAPE),
    ("https://a_b.example", "nom d'hôte invalide"), ("file:///etc/passwd", SHAPE),
    ("https://a.example\n", "nom d'hôte invalide"), ("x" * 300, "origine vide ou trop longue"),
    ("", "origine vide ou trop longue"),
])
def test_bad_origins_say_why(origin, why):
    with pytest.raises(OriginError, match="^" + re.escape(why)):
        normalize_origin(origin)


def test_a_host_with_a_bad_config_answers_and_names_the_problem(host_env, tmp_path):
    user = tmp_path / "bad.json"
    user.write_text('{"allowedOrigins": ["ftp://x"]}')
    with HostProcess(dict(host_env, CPSBRIDGE_USER_CONFIG=str(user))) as h:
        status = h.request("status")["result"]
        assert str(user) in status["config"]["error"]
        err = h.request("list-certificates")["error"]
        assert err["code"] == "ERR_CPS_INTERNAL"
        assert "allowedOrigins" in err["details"]["config"]
        # §4: the module is reported unusable, with the code a card command gets.
        assert status["pkcs11"] == {"module": None, "loaded": False, "error": err["code"]}


def test_the_pin_never_reaches_the_log_or_stderr(host_env, pki):
    env = dict(host_env, CPSBRIDGE_LOG_LEVEL="DEBUG")
    cid = pki.holders["dupont"].certificate_id
    with HostProcess(env) as h:
        assert h.request("authenticate", auth_args(cid, pin="97318642"))["error"]["code"] == "ERR_CPS_PIN_INCORRECT"
        assert "token" in h.request("authenticate", auth_args(cid, pin="1234"))["result"]
        assert h.request("authenticate", auth_args(cid, pin="86x2"))["error"]["code"] == "ERR_CPS_PIN_FORMAT"
    logfile = next(Path(env["XDG_STATE_HOME"]).rglob("host.log"), None)
    assert logfile is not None, "the host wrote no log file in the user's log folder"
    text = logfile.read_text() + h.stderr_text()
    assert "assertion made for https://localhost:8443" in text
    for secret in ("97318642", "86x2"):
        assert secret not in text
    assert not re.search(r"\b1234\b", text)


def test_a_requests_log_lines_are_written_once_answered_while_the_host_runs(host_env, pki):
    """INFO lines wait until the answer is out (host/logs.py): they must then be in the file,
    not only when the host exits (a browser may keep it open for hours)."""
    cid = pki.holders["dupont"].certificate_id
    with HostProcess(host_env) as h:
        assert "token" in h.request("authenticate", auth_args(cid, pin="1234"))["result"]
        h.request("status")  # any later answer: the first one's lines are out by then
        logfile = next(Path(host_env["XDG_STATE_HOME"]).rglob("host.log"))
        text = logfile.read_text()
        assert "INFO cpsbridge.handlers: assertion made for https://localhost:8443" in text
        stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \d+ ", text, re.M)
        assert stamps and stamps == sorted(stamps), "log lines out of time order"


def test_the_log_keeps_time_order_and_writes_waiting_lines_at_close(tmp_path, monkeypatch):
    from host import config, logs

    monkeypatch.setattr(logs, "_opened", False)
    monkeypatch.setattr(logs, "_file", None)
    monkeypatch.setattr(logs, "_pending", [])
    monkeypatch.setattr(logs, "_settings", config.Settings(logFile=str(tmp_path / "h.log")))
    log = logs.get("t")
    log.info("first")
    assert not (tmp_path / "h.log").exists() or "first" not in (tmp_path / "h.log").read_text()
    log.warning("second")  # written at once, after the line that waited
    log.info("third")
    logs.close()
    lines = (tmp_path / "h.log").read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["first", "second", "third"]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (INFO|WARNING) cpsbridge\.t: ", line)
               for line in lines)
    logs._file.close()


def test_the_log_rotates_when_it_has_grown(tmp_path):
    from host import logs

    path = tmp_path / "host.log"
    path.write_text("x" * 20)
    (tmp_path / "host.log.1").write_text("older")
    logs.rotate(str(path), max_bytes=10, backups=3)
    assert not path.exists()
    assert (tmp_path / "host.log.1").read_text() == "x" * 20
    assert (tmp_path / "host.log.2").read_text() == "older"
    logs.rotate(str(tmp_path / "small.log"), max_bytes=10)  # absent: nothing to do


def test_an_unusable_log_folder_does_not_stop_the_host(host_env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"logLevel": "LOUD"}')  # makes the host log an error at start
    env = dict(host_env, XDG_STATE_HOME="/proc/no-such-folder", CPSBRIDGE_USER_CONFIG=str(bad))
    with HostProcess(env) as h:
        assert h.request("status")["result"]["config"]["error"].startswith("Configuration invalide")
    stderr = h.stderr_text()
    assert "log file /proc/no-such-folder/cpsbridge/host.log unavailable" in stderr
    assert "ERROR cpsbridge.main: Configuration invalide" in stderr


config_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["https://a.example", "/usr/lib/x.so", "DEBUG", "CPS", "\ud800", "\x00"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8)
config_texts = st.one_of(
    st.text(max_size=60),
    st.dictionaries(st.sampled_from(["pkcs11Modules", "allowedOrigins", "logLevel",
                                     "cardTypePolicies", "other"]), config_values, max_size=4)
    .map(json.dumps),
    st.sampled_from(["[" * 5000, '{"allowedOrigins": ' + "[" * 3000, "\ufeff{}", "{}\x00"]))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config_texts, st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_any_config_file_gives_settings_or_a_config_error_naming_it(files, text, encoding):
    _, user = files
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = None
    assume(data is not None)  # a text this encoding cannot carry is no file: drawn again
    user.write_bytes(data)
    try:
        s = config.load()
    except config.ConfigError as exc:
        assert str(user) in str(exc)
    else:
        assert all(isinstance(m, str) and m for m in s.pkcs11Modules)
        assert all(normalize_origin(o) == o for o in s.allowedOrigins)


def test_the_windows_system_file_is_in_the_install_folder_not_programdata(monkeypatch):
    # %ProgramData% lets every user create files: a config there could name any user's DLL
    # as pkcs11Modules for everyone. The install folder under %ProgramFiles% is admin-only.
    monkeypatch.delenv("CPSBRIDGE_SYSTEM_CONFIG", raising=False)
    monkeypatch.delenv("ProgramW6432", raising=False)
    monkeypatch.setenv("ProgramData", "C:\\ProgramData")
    monkeypatch.setenv("ProgramFiles", "C:\\Program Files")
    assert config.system_config_path("win32") == "C:\\Program Files\\CPS Bridge\\config.json"
    # A 32-bit process sees ProgramFiles as "(x86)"; the MSI installs in the 64-bit folder.
    monkeypatch.setenv("ProgramFiles", "C:\\Program Files (x86)")
    monkeypatch.setenv("ProgramW6432", "C:\\Program Files")
    assert config.system_config_path("win32") == "C:\\Program Files\\CPS Bridge\\config.json"


@pytest.mark.parametrize("key", ["<OID de politique de certification>", "1.2.250.1.71.x",
                                 "1.2.250.", ".1.2", "1..2", "CPS", "", "1", "1.02.3",
                                 "１.２"])
def test_card_type_policies_take_dotted_oids_only(files, key):
    """The guide's example, copied as it is, is refused: a key that is not an OID in dotted
    form (digits and dots, 1.2.250.1.71.1.2.1) would never match a certificate. The same
    check serves the verifier's --card-type-policies (host.holder.is_card_type_table)."""
    from host.holder import is_card_type_table

    _, user = files
    user.write_text(json.dumps({"cardTypePolicies": {"1.2.250.1.71.1.2.1": "CPS", key: "CPS"}},
                               ensure_ascii=False))
    with pytest.raises(config.ConfigError) as exc:
        config.load()
    assert str(user) in str(exc.value) and "« cardTypePolicies »" in str(exc.value)
    assert exc.value.key == "cardTypePolicies"
    assert repr(key) in exc.value.problem and "n'est pas un OID" in exc.value.problem
    assert "1.2.250.1.71.1.2.1" in exc.value.problem  # what one looks like
    assert not is_card_type_table({key: "CPS"})
    user.write_text(json.dumps({"cardTypePolicies": {"1.2.250.1.71.1.2.1": "CPS",
                                                     "2.25.1.0": "CPE"}}))
    assert config.load().cardTypePolicies == {"1.2.250.1.71.1.2.1": "CPS", "2.25.1.0": "CPE"}
