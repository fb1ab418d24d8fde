"""What a person reads and a screen reader announces on the site's own pages (the UX and
accessibility audit): refused forms that say so in the title and mark the field at fault,
the password rule tied to its field, the libéral's two choices at his first card login, the
help page for what to install, the error page's heading, the tile's button named after what
it does. Over HTTP; what needs a browser (focus, colours, the tile script) is in
test_tile_js.py."""

from __future__ import annotations

import html
import re

import pytest

from tests.site.browser import Browser, alert, code_in, last_message, path_of, text_of
from tests.site.flows import CREATION_BUTTON, liberal_by_card

ASSOCIATION = "/connexion/carte-cps/association"


def title(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))


def field(page: str, name: str) -> dict[str, str]:
    """The attributes of the <input id=name>."""
    tag = re.search(rf'<input id="{name}"[^>]*>', page).group(0)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def control(page: str, name: str) -> dict[str, str]:
    """The attributes of the form control named `name` (an input or a select, with or
    without an id: the conditions' box has none)."""
    tag = re.search(rf'<(?:input|select)\b[^>]*\bname="{name}"[^>]*>', page).group(0)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def marked(page: str, names: tuple[str, ...], faulty: tuple[str, ...],
           rules: dict[str, str] | None = None) -> None:
    """Exactly the `faulty` controls are marked aria-invalid, their description starting with
    the refusal (#erreur); each keeps its own rule (`rules`: name -> id) after it."""
    for name in names:
        attributes = control(page, name)
        described = attributes.get("aria-describedby", "").split()
        expected = (["erreur"] if name in faulty else []) + \
            ([rules[name]] if rules and name in rules else [])
        assert (attributes.get("aria-invalid") == "true") == (name in faulty), (faulty, name)
        assert described == expected, (faulty, name, described)


def words(fragment: str) -> str:
    return html.unescape(re.sub(r"(<[^>]+>|\s)+", " ", fragment)).strip()


def test_the_error_page_has_a_heading(browser):
    page = browser.get("/nulle-part")
    assert page.status_code == 404
    assert title(page.text) == "Erreur : La demande n'a pas abouti – ViaTrajectoire"
    main = page.text[page.text.index("<main>"):]
    assert re.match(r"<main>\s*<h1>La demande n'a pas abouti</h1>\s*<p class=\"message erreur\"",
                    main), main[:300]
    assert alert(page.text) == "Cette page n'existe pas."


def test_a_refused_login_says_so_in_its_title(browser):
    assert title(browser.get("/").text) == "Connexion – ViaTrajectoire"
    refused = browser.login("inconnu", "pas le bon 1")
    assert title(refused.text) == "Erreur : Connexion – ViaTrajectoire"
    # The refusal can take the focus (static/site.js gives it on load).
    assert re.search(r'<p class="message erreur" tabindex="-1" data-refus '
                     r'id="erreur" data-testid="erreur">', refused.text)
    assert '<script src="/static/site.js" defer></script>' in refused.text
    assert "focus()" in browser.get("/static/site.js").text


def test_a_refused_login_marks_the_fields_at_fault(browser):
    """The most common refused form: the fields are marked, and described by the refusal,
    so that the focus (static/site.js) lands on the first one with its reason."""
    browser.get("/")
    page = browser.login("inconnu", "pas le bon 1")
    for name in ("identifiant", "mot_de_passe"):
        assert field(page.text, name).get("aria-invalid") == "true", name
        assert field(page.text, name).get("aria-describedby") == "erreur", name
    browser.get("/")
    page = browser.post("/connexion", {"identifiant": "inconnu", "mot_de_passe": ""})
    assert page.status_code == 400
    assert "aria-invalid" not in field(page.text, "identifiant")
    assert field(page.text, "mot_de_passe").get("aria-invalid") == "true"


def test_a_flashed_refusal_also_says_so_in_the_title(tmp_path):
    """A refusal met after a redirect (a flash message of kind "erreur", e.g. the libéral
    creation finding the RPPS taken meanwhile) counts as a refusal too; an info does not."""
    from server.site.app import create_app
    from server.site.config import SiteConfig

    app = create_app(SiteConfig(data_dir=tmp_path), card_auth=object())
    template = app.jinja_env.get_template("cgu.html")
    for kind, expected in [("erreur", "Erreur : "), ("info", "")]:
        page = template.render(messages=[[kind, "Un message."]], csrf="", user=None)
        assert title(page).startswith(f"{expected}Conditions"), (kind, title(page))
        assert ("data-refus" in page) == (kind == "erreur")


def test_a_liberal_sees_both_choices_first(site, browser, host, ids):
    """Dr BERNARD (an RPPS no account records) at his first card login: the creation and the
    association side by side, before any form; a refused association points him at the
    creation, and marks the fields it refused."""
    assert browser.card_login(host, ids["bernard"]).json() == {"redirect": ASSOCIATION}
    page = browser.get(ASSOCIATION).text
    choices = re.search(r'<div class="tuiles">(.*?)</div>', page, re.S)
    assert choices and choices.start() < page.index('<form method="post"'), \
        "the two choices come first"
    headings = re.findall(r"<h2>(.*?)</h2>", choices.group(1))
    assert headings == ["Vous n'avez pas encore de compte ViaTrajectoire ?",
                        "Vous avez déjà un compte ViaTrajectoire ?"]
    creation, association = re.findall(r"<section[^>]*>(.*?)</section>", choices.group(1), re.S)
    assert "Créer mon compte de l'espace médecin libéral</button>" in creation
    assert "ne créez pas de second compte" in creation  # the reason the page exists
    assert f'action="{ASSOCIATION}"' in association and ">Se connecter</button>" in association
    assert "aria-invalid" not in page

    refused = browser.post(ASSOCIATION, {"identifiant": "99700412345", "mot_de_passe": "Pas le bon 1"})
    assert refused.status_code == 401
    assert alert(refused.text) == (
        "Identifiant ou mot de passe incorrect. Vous n'avez pas encore de compte "
        "ViaTrajectoire ? Professionnel libéral, cliquez sur « Créer mon compte de l'espace "
        "médecin libéral ».")
    assert title(refused.text) == "Erreur : Première connexion par carte – ViaTrajectoire"
    for name in ("identifiant", "mot_de_passe"):
        attributes = field(refused.text, name)
        assert attributes["aria-invalid"] == "true" and attributes["aria-describedby"] == "erreur"


def test_a_card_without_the_creation_keeps_one_choice(site, browser, host, ids):
    """An ADELI card (no libéral creation): the association alone, and a bare refusal."""
    assert browser.card_login(host, ids["martin"]).json() == {"redirect": ASSOCIATION}
    page = browser.get(ASSOCIATION).text
    assert '<div class="tuiles">' not in page and "Créer mon compte" not in page
    refused = browser.post(ASSOCIATION, {"identifiant": "inconnu", "mot_de_passe": "Pas le bon 1"})
    assert alert(refused.text) == "Identifiant ou mot de passe incorrect."
    assert field(refused.text, "mot_de_passe")["aria-invalid"] == "true"


def test_the_creation_marks_the_field_at_fault(site, browser, host, ids):
    assert browser.card_login(host, ids["bernard"]).status_code == 200
    browser.get(ASSOCIATION)
    page = browser.get("/liberal/creation").text
    rule = text_of(page, 'id="regle-mot-de-passe"')
    assert rule == "Au moins 10 caractères, dont au moins une lettre et un chiffre."
    assert field(page, "mot_de_passe")["aria-describedby"] == "regle-mot-de-passe"
    assert "aria-invalid" not in page
    email = "luc.bernard@cabinet.example.test"
    for sent, faulty in [
        ({"email": email, "mot_de_passe": "court1", "confirmation": "court1"}, "mot_de_passe"),
        ({"email": email, "mot_de_passe": "Cabinet2024ok", "confirmation": "Cabinet2024ko"},
         "confirmation"),
        ({"email": "pas une adresse", "mot_de_passe": "Cabinet2024ok",
          "confirmation": "Cabinet2024ok"}, "email"),
    ]:
        refused = browser.post("/liberal/creation", sent).text
        assert title(refused).startswith("Erreur : "), faulty
        for name in ("email", "mot_de_passe", "confirmation"):
            attributes = field(refused, name)
            described = attributes.get("aria-describedby", "").split()
            assert (attributes.get("aria-invalid") == "true") == (name == faulty), (faulty, name)
            assert ("erreur" in described) == (name == faulty), (faulty, name)
            assert ("regle-mot-de-passe" in described) == (name == "mot_de_passe"), name


def test_a_new_password_page_ties_the_rule_to_the_field(site, browser):
    site.create_account("regle1", "regle1@chu.example.test", "Regle", "Anne")
    page = browser.get(path_of(last_message(site, "regle1@chu.example.test").links[0])).text
    assert field(page, "mot_de_passe")["aria-describedby"] == "regle-mot-de-passe"
    assert 'id="regle-mot-de-passe">Au moins 10 caractères' in page


def test_messages_that_send_to_the_tile_name_its_button(browser):
    for path in (ASSOCIATION, "/liberal/creation"):
        page = Browser(browser.site).get(path)
        assert page.url == browser.site.url, path
        message = text_of(page.text, 'class="message info"')
        assert message.endswith("Insérez votre carte dans le lecteur puis cliquez sur "
                                "« S'identifier par carte CPS ».")


def test_the_help_page_says_what_to_install_and_whom_to_ask(browser):
    home = browser.get("/").text
    help_link = re.search(r"<p data-cpsbridge-aide hidden>(.*?)</p>", home, re.S)
    assert help_link and 'href="/aide/carte-cps"' in help_link.group(1)
    page = browser.get("/aide/carte-cps")
    assert page.status_code == 200
    assert title(page.text) == "Aide : connexion par carte CPS – ViaTrajectoire"
    text = words(page.text)
    for needed in ("lecteur de carte CPS", "Cryptolib CPS", "module CPS Bridge",
                   "extension CPS Bridge", "votre service informatique",
                   "le support ViaTrajectoire de votre territoire",
                   "connecter avec votre identifiant et votre mot de passe"):
        assert needed in text, needed


def test_the_tile_hint_does_not_promise_a_certificate_choice(browser):
    tile = re.search(r"<section[^>]*data-cpsbridge-tile[^>]*>(.*?)</section>", browser.get("/").text,
                     re.S).group(1)
    assert "choisissez le certificat s'il vous est demandé, puis saisissez votre code porteur" \
        in words(tile)


# -- the assistant's and the password pages mark their fields too -----------------------------

ASSISTANT = "sophie.petit@cabinet.example.test"
ASSISTANT_PASSWORD = "Cabinet2024ok"


def test_a_refused_assistant_finalisation_marks_the_field_at_fault(site, browser, host, ids):
    """The assistant finishing the account a libéral delegated (manual III): each refusal of
    the form marks the field it is about (the profession, the password or its confirmation,
    the conditions' box), described by the refusal; the password keeps its rule."""
    liberal_by_card(browser, host, ids["dupont"], "dr.dupont@cabinet.example.test",
                    ASSISTANT_PASSWORD)
    browser.get("/compte")
    browser.post("/compte/assistants", {"email": ASSISTANT})
    assistant = Browser(site)
    assistant.get(path_of(last_message(site, ASSISTANT).links[0]))
    answer = assistant.card_login(host, ids["petit"], etape="invitation")
    assert answer.json() == {"redirect": "/assistant/finalisation"}
    page = assistant.follow(answer).text
    assert "aria-invalid" not in page
    names = ("profession", "mot_de_passe", "confirmation", "accepte")
    rules = {"mot_de_passe": "regle-mot-de-passe"}
    marked(page, names, (), rules)
    good = {"profession": "Secrétaire médicale", "mot_de_passe": ASSISTANT_PASSWORD,
            "confirmation": ASSISTANT_PASSWORD, "accepte": "oui"}
    for changed, faulty in [
        ({"profession": "Astronaute"}, "profession"),
        ({"mot_de_passe": "court1", "confirmation": "court1"}, "mot_de_passe"),
        ({"confirmation": "Cabinet2024ko"}, "confirmation"),
        ({"accepte": None}, "accepte"),
    ]:
        sent = {k: v for k, v in {**good, **changed}.items() if v is not None}
        refused = assistant.post("/assistant/finalisation", sent)
        assert refused.status_code == 400, faulty
        assert title(refused.text) == \
            "Erreur : Finaliser votre compte d'assistant – ViaTrajectoire", faulty
        marked(refused.text, names, (faulty,), rules)


@pytest.mark.parametrize("objet", ["definir", "reinitialiser"])
def test_a_refused_new_password_marks_the_field_at_fault(site, browser, objet):
    """The new password pages (the référent's link, the « mot de passe oublié » link: one
    form) mark the field a refusal is about, as the libéral creation does: the confirmation
    when the two differ, else the password, whose rule stays in its description."""
    email = f"regle-{objet}@chu.example.test"
    assert site.create_account(f"regle-{objet}", email, "Regle", "Anne").returncode == 0
    if objet == "reinitialiser":
        browser.get("/mot-de-passe-oublie")
        browser.post("/mot-de-passe-oublie", {"identifiant": f"regle-{objet}", "email": email})
    link = path_of(last_message(site, email).links[0])
    assert link.startswith(f"/mot-de-passe/{objet}/")
    page = browser.get(link).text
    names, rules = ("mot_de_passe", "confirmation"), {"mot_de_passe": "regle-mot-de-passe"}
    marked(page, names, (), rules)
    heading = title(page)
    for sent, faulty in [
        ({"mot_de_passe": "court1", "confirmation": "court1"}, "mot_de_passe"),
        ({"mot_de_passe": "sans chiffre ici", "confirmation": "sans chiffre ici"}, "mot_de_passe"),
        ({"mot_de_passe": "Hopital2024ok", "confirmation": "Hopital2024ko"}, "confirmation"),
    ]:
        refused = browser.post(link, sent)
        assert refused.status_code == 400, sent
        assert title(refused.text) == f"Erreur : {heading}", sent
        marked(refused.text, names, (faulty,), rules)


def test_a_refused_forgotten_password_request_marks_the_empty_fields(browser):
    browser.get("/mot-de-passe-oublie")
    names = ("identifiant", "email")
    for sent, faulty in [
        ({"identifiant": "", "email": ""}, ("identifiant", "email")),
        ({"identifiant": "quelquun", "email": ""}, ("email",)),
        ({"identifiant": "", "email": "quelquun@example.test"}, ("identifiant",)),
    ]:
        refused = browser.post("/mot-de-passe-oublie", sent)
        assert refused.status_code == 400, sent
        assert title(refused.text) == "Erreur : Mot de passe oublié – ViaTrajectoire"
        assert alert(refused.text) == "Renseignez votre identifiant et votre adresse e-mail."
        marked(refused.text, names, faulty)
    assert "aria-invalid" not in browser.get("/mot-de-passe-oublie").text


def test_a_refused_conditions_step_marks_its_box(site, browser, host, ids):
    """The CGU step of a libéral's account creation (manual II.1): the box is the field."""
    page = browser.follow(browser.card_login(host, ids["bernard"]))
    browser.get(CREATION_BUTTON.search(page.text).group(1))
    browser.post("/liberal/creation", {"email": "luc.bernard@cabinet.example.test",
                                       "mot_de_passe": "Cabinet2024ok",
                                       "confirmation": "Cabinet2024ok"})
    page = browser.get("/liberal/cgu").text
    marked(page, ("accepte",), ())
    refused = browser.post("/liberal/cgu", {})
    assert refused.status_code == 400
    assert title(refused.text).startswith("Erreur : Conditions Générales d'Utilisation")
    marked(refused.text, ("accepte",), ("accepte",))


def test_refusals_on_the_account_page_mark_their_field(site, browser, host, ids):
    """The account page holds several forms under one refusal: the field of the form that
    was refused is the one marked (the phone, the code received, the assistant's address)."""
    liberal_by_card(browser, host, ids["dupont"], "dr.dupont@cabinet.example.test",
                    "Cabinet2024ok")
    page = browser.get("/compte").text
    assert "aria-invalid" not in page

    def only(page: str, faulty: str) -> None:
        present = [n for n in ("telephone", "code", "email_assistant") if f'id="{n}"' in page]
        assert faulty in present, (faulty, present)
        for name in present:
            attributes = field(page, name)
            assert (attributes.get("aria-invalid") == "true") == (name == faulty), (faulty, name)
            assert (attributes.get("aria-describedby") == "erreur") == (name == faulty), name

    for action, sent, faulty in [
        ("/compte/telephone", {"telephone": "07 12 34"}, "telephone"),
        ("/compte/otp", {"canal": "sms"}, "telephone"),  # SMS asks for a verified number
        ("/compte/assistants", {"email": "pas une adresse"}, "email_assistant"),
        ("/compte/assistants", {"email": "dr.dupont@cabinet.example.test"}, "email_assistant"),
    ]:
        refused = browser.post(action, sent)
        assert refused.status_code == 400, action
        assert title(refused.text) == "Erreur : Mon compte – ViaTrajectoire", action
        only(refused.text, faulty)
    browser.post("/compte/telephone", {"telephone": "06 12 34 56 78"})
    code = code_in(last_message(site, "+33612345678", canal="sms"))
    refused = browser.post("/compte/telephone/code", {"code": "000000" if code != "000000" else "111111"})
    assert refused.status_code == 401
    only(refused.text, "code")
    assert "aria-invalid" not in browser.post("/compte/telephone/code", {"code": code}).text


# -- the third-party arrival's refusal, and refusals said once --------------------------------

def test_the_third_party_refusal_says_so_in_its_title(browser):
    """Manual IV.3: the arrival from a site without strong authentication is a refusal, and
    says so in its title and takes the focus, as every refused page does: the heading first,
    then the refusal (as on the error page)."""
    page = browser.get("/connexion/site-tiers?retour=/compte")
    assert page.status_code == 403
    assert title(page.text) == "Erreur : Connexion depuis un site tiers – ViaTrajectoire"
    main = page.text[page.text.index("<main>"):]
    assert re.match(r"<main>\s*<h1>Connexion depuis un site tiers</h1>\s*<p [^>]*data-refus",
                    main), main[:300]
    assert text_of(page.text, "data-refus") == (
        "Accès refusé : le site depuis lequel vous souhaitez vous connecter n'a pas de mode de "
        "connexion fort (double authentification ou connexion par carte de professionnel).")


TILE_ALERT = '<p class="message erreur" role="alert" hidden>'


def test_a_refusal_shown_with_the_page_is_said_once(site, browser, tmp_path):
    """A refusal present at load takes the focus (static/site.js), which has it read; with
    role="alert" too, screen readers may read it twice. As the GOV.UK Design System's error
    summary (govuk-frontend v5): focus, no role="alert". The tile keeps its alert, filled by
    its script after load and never focused."""
    pages = {
        "error page": browser.get("/nulle-part").text,
        "refused form": browser.login("inconnu", "pas le bon 1").text,
        "expired link": browser.get("/mot-de-passe/definir/pas-un-lien").text,
        "third-party arrival": browser.get("/connexion/site-tiers?retour=/compte").text,
    }
    from server.site.app import create_app
    from server.site.config import SiteConfig

    app = create_app(SiteConfig(data_dir=tmp_path), card_auth=object())
    pages["flashed refusal"] = app.jinja_env.get_template("cgu.html").render(
        messages=[["erreur", "Un message."]], csrf="", user=None)
    for name, page in pages.items():
        refusal = re.search(r"<p [^>]*data-refus[^>]*>", page)
        assert refusal, name
        assert 'tabindex="-1"' in refusal.group(0) and "role=" not in refusal.group(0), \
            (name, refusal.group(0))
        tile = "data-cpsbridge-tile" in page
        assert re.findall(r'<[^>]*role="alert"[^>]*>', page) == ([TILE_ALERT] if tile else []), name
