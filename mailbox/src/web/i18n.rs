//! The UI's two languages: which one a request asks for, and every string in French and
//! English.

use axum::http::{HeaderMap, header};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lang {
    Fr,
    En,
}

impl Lang {
    pub(super) fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// `?lang=` first, then the `lang` cookie, then Accept-Language; French by default.
pub(super) fn lang(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    let pick = |s: &str| match s.trim().get(..2) {
        Some("en") => Some(Lang::En),
        Some("fr") => Some(Lang::Fr),
        _ => None,
    };
    if let Some(l) = asked.and_then(pick) {
        return l;
    }
    let cookie = super::requests::cookies(headers)
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| pick(v));
    if let Some(l) = cookie {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(pick))
        .unwrap_or(Lang::Fr)
}

pub(super) fn t(lang: Lang, key: &str) -> &'static str {
    let (fr, en) = match key {
        "title" => ("Boîte aux lettres recommandées", "Registered mailbox"),
        "login" => ("Se connecter", "Log in"),
        "user" => ("Identifiant", "User name"),
        "password" => ("Mot de passe", "Password"),
        "totp" => (
            "Code de vérification (6 chiffres)",
            "Verification code (6 digits)",
        ),
        "totp_intro" => (
            "Saisissez le code affiché par votre application d'authentification.",
            "Enter the code your authenticator app shows.",
        ),
        "verify" => ("Vérifier", "Verify"),
        "bad_login" => (
            "Identifiant ou mot de passe incorrect, ou compte bloqué quelques instants après trop d'essais.",
            "Wrong user name or password, or the account is locked for a while after too many attempts.",
        ),
        "bad_code" => ("Code incorrect.", "Wrong code."),
        "delivery" => ("Envoi électronique", "Electronic delivery"),
        "journal" => ("Qui a lu ce courrier", "Who read this letter"),
        "delivery_accepted" => (
            "Vous recevez vos courriers recommandés dans cette boîte aux lettres.",
            "You receive your registered letters in this mailbox.",
        ),
        "delivery_refused_since" => (
            "Vous refusez l'envoi électronique depuis le",
            "You have refused electronic delivery since",
        ),
        "delivery_help" => (
            "Si vous refusez l'envoi électronique, chaque expéditeur reçoit, pour ses prochains courriers, un refus scellé qui le dit, et vous les envoie par un autre moyen (papier). Les courriers déjà reçus restent ici. Vous pouvez changer d'avis à tout moment.",
            "If you refuse electronic delivery, every sender gets, for its next letters, a sealed refusal that says so, and sends them to you another way (paper). Letters already received stay here. You may change your mind at any time.",
        ),
        "delivery_refuse" => ("Refuser l'envoi électronique", "Refuse electronic delivery"),
        "delivery_accept" => (
            "Accepter à nouveau l'envoi électronique",
            "Accept electronic delivery again",
        ),
        "locked" => (
            "Trop d'essais : le compte est bloqué quelques instants. Réessayez plus tard.",
            "Too many attempts: the account is locked for a while. Try again later.",
        ),
        "new_password" => ("Nouveau mot de passe", "New password"),
        "again" => ("Confirmez le mot de passe", "Confirm the password"),
        "change" => ("Changer le mot de passe", "Change the password"),
        "change_intro" => (
            "Choisissez un nouveau mot de passe (12 caractères au moins).",
            "Choose a new password (at least 12 characters).",
        ),
        "bad_new" => (
            "Les deux mots de passe doivent être identiques et compter 12 caractères au moins.",
            "Both passwords must match and have at least 12 characters.",
        ),
        "inbox" => ("Boîte de réception", "Inbox"),
        "mailbox" => ("Boîte", "Mailbox"),
        "sender" => ("Expéditeur", "Sender"),
        "subject" => ("Objet", "Subject"),
        "received" => ("Reçu le", "Received"),
        "state" => ("État", "State"),
        "registered" => ("Recommandé", "Registered"),
        "read" => ("Lu", "Read"),
        "unread" => ("Non lu", "Unread"),
        "all" => ("Tous", "All"),
        "filter" => ("Filtrer", "Filter"),
        "none" => ("Aucune lettre.", "No letters."),
        "previous" => ("Page précédente", "Previous page"),
        "next" => ("Page suivante", "Next page"),
        "page" => ("Page", "Page"),
        "letters" => ("Lettres", "Letters"),
        "documents" => ("Documents", "Documents"),
        "evidences" => ("Preuves", "Evidences"),
        "download" => ("Télécharger", "Download"),
        "evidence_help" => (
            "Chaque preuve est un document scellé et horodaté ; vérifiez-le avec sealpost-verify.",
            "Each evidence is a sealed, time-stamped document; check it with sealpost-verify.",
        ),
        "back" => ("Retour à la boîte", "Back to the inbox"),
        "logout" => ("Se déconnecter", "Log out"),
        "mandates" => ("Mandats", "Mandates"),
        "company" => ("Entreprise", "Company"),
        "person" => ("Personne (identifiant)", "Person (user name)"),
        "types" => (
            "Types de message (séparés par des virgules ; vide : tous)",
            "Message types (comma-separated; empty: all)",
        ),
        "until" => ("Valable jusqu'au (AAAA-MM-JJ)", "Valid until (YYYY-MM-DD)"),
        "grant" => ("Accorder le mandat", "Grant the mandate"),
        "revoke" => ("Révoquer", "Revoke"),
        "revoked" => ("révoqué", "revoked"),
        "bad_mandate" => (
            "Mandat refusé : vérifiez l'entreprise, la personne et la date.",
            "Mandate refused: check the company, the person and the date.",
        ),
        "not_found" => ("Cette page n'existe pas.", "This page does not exist."),
        "error" => (
            "Le service est momentanément indisponible.",
            "The service is unavailable for a moment.",
        ),
        "bad_form" => (
            "Le formulaire a expiré ; recommencez.",
            "The form has expired; please try again.",
        ),
        "sha256" => ("Empreinte SHA-256", "SHA-256 fingerprint"),
        "size" => ("octets", "bytes"),
        "other_lang" => ("English", "Français"),
        "deletion_cancelled" => (
            "Votre compte, inutilisé depuis longtemps, devait être supprimé ; votre connexion a annulé la suppression.",
            "Your account, unused for a long time, was due to be deleted; logging in cancelled the deletion.",
        ),
        "or_certificate" => ("Ou avec un certificat", "Or with a certificate"),
        "certificate_intro" => (
            "Votre navigateur présente votre certificat (carte d'identité électronique ou certificat personnel).",
            "Your browser presents your certificate (electronic identity card or personal certificate).",
        ),
        "certificate_login" => (
            "Se connecter avec mon certificat",
            "Log in with my certificate",
        ),
        "bad_certificate" => (
            "Aucun certificat reconnu n'a été présenté.",
            "No recognised certificate was presented.",
        ),
        _ => ("", ""),
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}
