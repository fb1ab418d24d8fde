"""The texts of the e-mails and SMS the site sends (French, the manual's wording)."""

from __future__ import annotations

from .sender import Message

SIGNATURE = "\n\nL'équipe ViaTrajectoire\n(Message automatique : merci de ne pas y répondre.)"


def _if_not_you(act: str, login_url: str) -> str:
    """What to do when someone else changed the account's cards: one wording for each change."""
    return (f"\n\nSi vous n'êtes pas à l'origine de {act}, définissez un nouveau mot de passe "
            f"(« Mot de passe oublié ? » : {login_url}) et contactez sans attendre le support "
            f"ViaTrajectoire de votre région.")


def account_created(to: str, name: str, identifiant: str, link: str, hours: int) -> Message:
    return Message("email", to, "ViaTrajectoire : votre compte utilisateur a été créé",
                   f"Bonjour {name},\n\nLe référent ViaTrajectoire de votre établissement a créé "
                   f"votre compte utilisateur.\n\nVotre identifiant de connexion : {identifiant}\n\n"
                   f"Pour valider votre adresse e-mail et définir votre mot de passe, cliquez sur "
                   f"le lien suivant (valable {hours} heures, une seule fois) :\n{link}" + SIGNATURE)


def password_changed(to: str, name: str, login_url: str) -> Message:
    return Message("email", to, "ViaTrajectoire : confirmation de la modification de votre mot de passe",
                   f"Bonjour {name},\n\nLe mot de passe de votre compte ViaTrajectoire a bien été "
                   f"modifié.\n\nVous pouvez vous connecter : {login_url}\n\nSi vous n'êtes pas à "
                   f"l'origine de cette modification, contactez sans attendre le support "
                   f"ViaTrajectoire de votre région." + SIGNATURE)


def reset_link(to: str, name: str, identifiant: str, link: str, minutes: int) -> Message:
    return Message("email", to, "ViaTrajectoire : définir un nouveau mot de passe",
                   f"Bonjour {name},\n\nUne demande de nouveau mot de passe a été faite pour "
                   f"l'identifiant {identifiant}.\n\nPour définir votre nouveau mot de passe, "
                   f"cliquez sur le lien suivant (valable {minutes} minutes, une seule fois) :\n"
                   f"{link}\n\nSi vous n'avez rien demandé, ignorez ce message : votre mot de passe "
                   f"actuel reste valable." + SIGNATURE)


def otp_email(to: str, code: str, minutes: int) -> Message:
    return Message("email", to, "ViaTrajectoire : votre code de confirmation",
                   f"Bonjour,\n\nVotre code de confirmation ViaTrajectoire est : {code}\n\n"
                   f"Il est valable {minutes} minutes et ne peut servir qu'une fois. Ne le "
                   f"communiquez à personne." + SIGNATURE)


def otp_sms(to: str, code: str, minutes: int) -> Message:
    return Message("sms", to, "SMS",
                   f"ViaTrajectoire : votre code de confirmation est {code} "
                   f"(valable {minutes} min). Ne le communiquez à personne.")


def phone_code(to: str, code: str, minutes: int) -> Message:
    return Message("sms", to, "SMS",
                   f"ViaTrajectoire : code de vérification de votre numéro de téléphone : {code} "
                   f"(valable {minutes} min).")


def validate_email(to: str, name: str, identifiant: str, link: str, hours: int) -> Message:
    return Message("email", to, "ViaTrajectoire : validez votre adresse e-mail",
                   f"Bonjour {name},\n\nVotre compte de l'espace médecin libéral ViaTrajectoire a "
                   f"été créé. Votre identifiant de connexion est votre numéro RPPS : "
                   f"{identifiant}.\n\nPour valider votre adresse e-mail, cliquez sur le lien "
                   f"suivant (valable {hours} heures, une seule fois) :\n{link}" + SIGNATURE)


def validate_email_again(to: str, name: str, link: str, hours: int) -> Message:
    return Message("email", to, "ViaTrajectoire : validez votre adresse e-mail",
                   f"Bonjour {name},\n\nVous avez demandé un nouveau lien de validation de votre "
                   f"adresse e-mail.\n\nPour valider votre adresse e-mail, cliquez sur le lien "
                   f"suivant (valable {hours} heures, une seule fois) :\n{link}\n\nLes liens "
                   f"envoyés auparavant ne sont plus valables." + SIGNATURE)


def card_linked(to: str, name: str, identifiant: str, holder: str, login_url: str) -> Message:
    return Message("email", to, "ViaTrajectoire : une carte CPx a été associée à votre compte",
                   f"Bonjour {name},\n\nUne carte CPx au nom de {holder} a été associée à votre "
                   f"compte ViaTrajectoire (identifiant {identifiant}). Les prochaines connexions "
                   f"avec cette carte se feront directement."
                   + _if_not_you("cette association", login_url) + SIGNATURE)


def card_removed(to: str, name: str, identifiant: str, id_nat: str, login_url: str) -> Message:
    return Message("email", to, "ViaTrajectoire : une carte CPx a été retirée de votre compte",
                   f"Bonjour {name},\n\nLa carte CPx n° {id_nat} a été retirée de votre compte "
                   f"ViaTrajectoire (identifiant {identifiant}). Elle ne permet plus de vous "
                   f"connecter ; pour l'utiliser de nouveau, il faudra l'associer à votre compte "
                   f"avec votre identifiant et votre mot de passe."
                   + _if_not_you("ce retrait", login_url) + SIGNATURE)


def delegation(to: str, liberal: str, link: str, hours: int) -> Message:
    return Message("email", to, f"ViaTrajectoire : {liberal} souhaite vous déléguer ses droits",
                   f"Bonjour,\n\n{liberal} souhaite que vous l'assistiez dans la gestion de ses "
                   f"dossiers ViaTrajectoire et vous délègue ses droits.\n\nPour finaliser la "
                   f"création de votre compte, cliquez sur le lien suivant (valable {hours} heures, "
                   f"une seule fois), puis insérez votre carte dans le lecteur et cliquez sur "
                   f"« Se connecter par carte CPx » :\n{link}" + SIGNATURE)


def assistant_ready(to: str, name: str, identifiant: str, liberal: str, login_url: str) -> Message:
    return Message("email", to, "ViaTrajectoire : votre compte d'assistant est créé",
                   f"Bonjour {name},\n\nVotre compte d'assistant de {liberal} est créé.\n\n"
                   f"Votre identifiant de connexion : {identifiant}\nVous pouvez vous connecter "
                   f"par carte CPx ou par identifiant et mot de passe : {login_url}" + SIGNATURE)


def delegation_accepted(to: str, liberal: str, assistant: str, account_url: str) -> Message:
    return Message("email", to, "ViaTrajectoire : délégation acceptée",
                   f"Bonjour {liberal},\n\n{assistant} a finalisé son compte et dispose désormais "
                   f"de vos droits délégués. Vous pouvez retirer cette délégation à tout moment "
                   f"depuis la page de gestion de votre compte : {account_url}" + SIGNATURE)
