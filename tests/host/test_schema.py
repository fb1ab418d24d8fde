"""host/arguments.py accepts exactly what the pydantic schema (host/schema.py) accepts,
and the host's responses validate against the schema's result models."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from host import arguments, schema
from host.errors import CpsError
from tests.host.conftest import auth_args

values = st.one_of(st.none(), st.booleans(), st.integers(-5, 200_000), st.floats(allow_nan=False),
                   st.text(max_size=140), st.text("0123456789abcdef", min_size=64, max_size=64),
                   st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n_-",
                           min_size=40, max_size=130), st.lists(st.integers(), max_size=2))
keys = {cmd: list(model.model_fields) + ["extra"] for cmd, model in schema.ARGUMENTS.items()}


def schema_accepts(command: str, args: dict) -> bool:
    try:
        schema.ARGUMENTS[command].model_validate(args)
        return True
    except ValidationError:
        return False


def hand_accepts(command: str, args: dict) -> bool:
    try:
        arguments.parse(command, args)
        return True
    except CpsError as err:
        assert err.code == "ERR_CPS_INVALID_REQUEST"
        return False


@settings(max_examples=400)
@given(st.sampled_from(sorted(schema.ARGUMENTS)), st.data())
def test_hand_validation_agrees_with_the_schema(command, data):
    args = data.draw(st.dictionaries(st.sampled_from(keys[command]), values, max_size=5))
    assert hand_accepts(command, args) == schema_accepts(command, args), (command, args)


def test_valid_authenticate_arguments_agree(pki):
    args = auth_args(pki.holders["dupont"].certificate_id)
    assert hand_accepts("authenticate", args) and schema_accepts("authenticate", args)


def test_responses_conform_to_the_schema(host, pki):
    listed = host.request("list-certificates")["result"]
    schema.ListCertificatesResult.model_validate(listed)
    token = host.request("authenticate", auth_args(pki.holders["dupont"].certificate_id))["result"]
    schema.AuthenticateResult.model_validate(token)
    with pytest.raises(ValidationError):  # the check has teeth
        schema.AuthenticateResult.model_validate({"token": {**token["token"], "algorithm": "none"}})


@pytest.mark.parametrize("nonce", ["A" * 43 + "=\n", "A" * 44 + "\n", " " + "A" * 44, "A" * 129])
def test_edge_nonces_are_refused_by_both(pki, nonce):
    args = auth_args(pki.holders["dupont"].certificate_id, nonce=nonce)
    assert not hand_accepts("authenticate", args)
    assert not schema_accepts("authenticate", args)


@pytest.mark.parametrize("nonce", ["A" * 44 + "=", "A" * 44 + "==", "A" * 44 + "===", "A" * 20 + "=" + "A" * 24,
                                   "=" * 44, "-_" * 22, "A" * 43 + "é", "A" * 43 + "٣",
                                   "A" * 44 + "=" + "A"])
def test_nonce_alphabet_and_padding_agree_with_the_schema(pki, nonce):
    args = auth_args(pki.holders["dupont"].certificate_id, nonce=nonce)
    assert hand_accepts("authenticate", args) == schema_accepts("authenticate", args), nonce


@pytest.mark.parametrize("cid", ["a" * 64, "A" * 64, "g" * 64, "٣" * 64, "a" * 63 + "\n"])
def test_certificate_id_alphabet_agrees_with_the_schema(cid):
    args = auth_args(cid)
    assert hand_accepts("authenticate", args) == schema_accepts("authenticate", args), cid
