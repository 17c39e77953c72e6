import auth_token


def test_api_token_is_deterministic_and_fits_drf_tokens():
    token = auth_token.api_token("secret-one")
    assert token == auth_token.api_token("secret-one")
    assert token != auth_token.api_token("secret-two")
    assert len(token) == 40 and all(c in "0123456789abcdef" for c in token)
