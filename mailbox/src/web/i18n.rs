//! The UI's three languages (French, Dutch, English): which one a request asks for, and every
//! text in each of them.

use axum::http::{HeaderMap, header};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lang {
    Fr,
    Nl,
    En,
}

impl Lang {
    pub(super) const ALL: [Lang; 3] = [Lang::Fr, Lang::Nl, Lang::En];

    pub(super) fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The language's own name for itself (what a switcher shows).
    pub(super) fn name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::Nl => "Nederlands",
            Lang::En => "English",
        }
    }

    /// The language a code names (`fr`, `nl`, `en`, or a tag such as `nl-BE`).
    pub(super) fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim();
        let primary = code.split(['-', '_', ';']).next().unwrap_or("");
        Lang::ALL
            .into_iter()
            .find(|l| primary.eq_ignore_ascii_case(l.code()))
    }
}

/// The value of the `lang` cookie, if it names a language.
pub(super) fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    super::requests::cookies(headers)
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .and_then(|(_, v)| Lang::from_code(v))
}

/// The cookie that remembers the language chosen, before and after login (not a secret: it
/// only says which language to answer in).
pub(super) const LANG_COOKIE: &str = "lang";

/// The `Set-Cookie` value remembering `lang` for a year, for the whole site (the 404 page
/// outside the mailbox speaks it too).
pub(super) fn lang_cookie(lang: Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; Secure; SameSite=Lax",
        lang.code()
    )
}

/// `?lang=` first, then the `lang` cookie, then Accept-Language; French by default.
pub(super) fn lang(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    if let Some(l) = asked.and_then(Lang::from_code) {
        return l;
    }
    if let Some(l) = cookie_lang(headers) {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(Lang::from_code))
        .unwrap_or(Lang::Fr)
}

/// The text `key` in `lang`. Every key the UI uses is in [`TEXTS`] (a test reads the sources
/// for them); an unknown one is a bug, shown as the key itself rather than as nothing.
pub(super) fn t(lang: Lang, key: &'static str) -> &'static str {
    let i = match lang {
        Lang::Fr => 0,
        Lang::Nl => 1,
        Lang::En => 2,
    };
    TEXTS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, texts)| texts[i])
}

/// Month names, January first.
pub(super) fn month(lang: Lang, m: i8) -> &'static str {
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let names = match lang {
        Lang::Fr => &FR,
        Lang::Nl => &NL,
        Lang::En => &EN,
    };
    usize::try_from(m - 1)
        .ok()
        .and_then(|i| names.get(i))
        .copied()
        .unwrap_or("?")
}

/// Every text: its key, then French, Dutch and English. `{date}`, `{who}`, `{reason}` and
/// `{zone}` are filled in where the text is used.
const TEXTS: &[(&str, [&str; 3])] = &[
    (
        "title",
        [
            "Boîte aux lettres recommandées",
            "Brievenbus voor aangetekende zendingen",
            "Registered mailbox",
        ],
    ),
    ("login", ["Se connecter", "Aanmelden", "Log in"]),
    ("user", ["Identifiant", "Gebruikersnaam", "User name"]),
    ("password", ["Mot de passe", "Wachtwoord", "Password"]),
    (
        "totp",
        [
            "Code de vérification (6 chiffres)",
            "Verificatiecode (6 cijfers)",
            "Verification code (6 digits)",
        ],
    ),
    (
        "totp_intro",
        [
            "Saisissez le code affiché par votre application d'authentification.",
            "Voer de code in die uw authenticatie-app toont.",
            "Enter the code your authenticator app shows.",
        ],
    ),
    ("verify", ["Vérifier", "Controleren", "Verify"]),
    (
        "bad_login",
        [
            "Identifiant ou mot de passe incorrect, ou compte bloqué quelques instants après trop d'essais.",
            "Verkeerde gebruikersnaam of wachtwoord, of de account is even geblokkeerd na te veel pogingen.",
            "Wrong user name or password, or the account is locked for a while after too many attempts.",
        ],
    ),
    (
        "bad_code",
        ["Code incorrect.", "Verkeerde code.", "Wrong code."],
    ),
    (
        "delivery",
        [
            "Envoi électronique",
            "Elektronische bezorging",
            "Electronic delivery",
        ],
    ),
    (
        "journal",
        [
            "Qui a lu ce courrier",
            "Wie deze brief heeft gelezen",
            "Who read this letter",
        ],
    ),
    (
        "delivery_accepted",
        [
            "Vous recevez vos courriers recommandés dans cette boîte aux lettres.",
            "U ontvangt uw aangetekende brieven in deze brievenbus.",
            "You receive your registered letters in this mailbox.",
        ],
    ),
    (
        "delivery_refused_since",
        [
            "Vous refusez l'envoi électronique depuis le {date}.",
            "U weigert elektronische bezorging sinds {date}.",
            "You have refused electronic delivery since {date}.",
        ],
    ),
    (
        "delivery_help",
        [
            "Si vous refusez l'envoi électronique, chaque expéditeur reçoit, pour ses prochains courriers, un refus scellé qui le dit, et vous les envoie par un autre moyen (papier). Les courriers déjà reçus restent ici. Vous pouvez changer d'avis à tout moment.",
            "Als u elektronische bezorging weigert, krijgt elke afzender voor zijn volgende brieven een verzegelde weigering die dat zegt, en stuurt hij ze u op een andere manier (op papier). Brieven die u al ontving, blijven hier. U kunt op elk moment van gedachten veranderen.",
            "If you refuse electronic delivery, every sender gets, for its next letters, a sealed refusal that says so, and sends them to you another way (paper). Letters already received stay here. You may change your mind at any time.",
        ],
    ),
    (
        "delivery_refuse",
        [
            "Refuser l'envoi électronique",
            "Elektronische bezorging weigeren",
            "Refuse electronic delivery",
        ],
    ),
    (
        "delivery_accept",
        [
            "Accepter à nouveau l'envoi électronique",
            "Elektronische bezorging opnieuw aanvaarden",
            "Accept electronic delivery again",
        ],
    ),
    (
        "locked",
        [
            "Trop d'essais : le compte est bloqué quelques instants. Réessayez plus tard.",
            "Te veel pogingen: de account is even geblokkeerd. Probeer het later opnieuw.",
            "Too many attempts: the account is locked for a while. Try again later.",
        ],
    ),
    (
        "new_password",
        ["Nouveau mot de passe", "Nieuw wachtwoord", "New password"],
    ),
    (
        "again",
        [
            "Confirmez le mot de passe",
            "Bevestig het wachtwoord",
            "Confirm the password",
        ],
    ),
    (
        "change",
        [
            "Changer le mot de passe",
            "Wachtwoord wijzigen",
            "Change the password",
        ],
    ),
    (
        "change_intro",
        [
            "Choisissez un nouveau mot de passe (12 caractères au moins).",
            "Kies een nieuw wachtwoord (minstens 12 tekens).",
            "Choose a new password (at least 12 characters).",
        ],
    ),
    (
        "bad_new",
        [
            "Les deux mots de passe doivent être identiques et compter 12 caractères au moins.",
            "Beide wachtwoorden moeten gelijk zijn en minstens 12 tekens tellen.",
            "Both passwords must match and have at least 12 characters.",
        ],
    ),
    ("inbox", ["Boîte de réception", "Postvak IN", "Inbox"]),
    ("mailbox", ["Boîte", "Brievenbus", "Mailbox"]),
    ("sender", ["Expéditeur", "Afzender", "Sender"]),
    ("subject", ["Objet", "Onderwerp", "Subject"]),
    ("received", ["Reçu le", "Ontvangen op", "Received"]),
    ("state", ["État", "Status", "State"]),
    ("registered", ["Recommandé", "Aangetekend", "Registered"]),
    ("read", ["Lu", "Gelezen", "Read"]),
    ("unread", ["Non lu", "Ongelezen", "Unread"]),
    ("all", ["Tous", "Alle", "All"]),
    ("filter", ["Filtrer", "Filteren", "Filter"]),
    ("none", ["Aucune lettre.", "Geen brieven.", "No letters."]),
    (
        "previous",
        ["Page précédente", "Vorige pagina", "Previous page"],
    ),
    ("next", ["Page suivante", "Volgende pagina", "Next page"]),
    ("page", ["Page", "Pagina", "Page"]),
    ("pages", ["Pages", "Pagina's", "Pages"]),
    ("mailboxes", ["Boîtes", "Brievenbussen", "Mailboxes"]),
    ("letters", ["Lettres", "Brieven", "Letters"]),
    ("documents", ["Documents", "Documenten", "Documents"]),
    ("evidences", ["Preuves", "Bewijzen", "Proofs"]),
    ("download", ["Télécharger", "Downloaden", "Download"]),
    (
        "evidence_help",
        [
            "Chaque preuve est un fichier XML scellé et horodaté par Sealpost : il prouve, devant un tribunal aussi, ce qui est arrivé à ce courrier et quand.",
            "Elk bewijs is een XML-bestand dat Sealpost verzegeld en van een tijdstempel voorzien heeft: het bewijst, ook voor een rechtbank, wat er met deze brief gebeurd is en wanneer.",
            "Each proof is an XML file sealed and time-stamped by Sealpost: it proves, in court too, what happened to this letter and when.",
        ],
    ),
    (
        "check_proof",
        [
            "Vérifier une preuve",
            "Een bewijs controleren",
            "Checking a proof",
        ],
    ),
    (
        "check_how",
        [
            "Téléchargez-la, puis vérifiez-la hors ligne avec l'outil sealpost-verify et l'identité publiée du prestataire (sa liste de confiance) :",
            "Download het en controleer het offline met het hulpmiddel sealpost-verify en de gepubliceerde identiteit van de dienstverlener (zijn vertrouwenslijst):",
            "Download it, then check it offline with the sealpost-verify tool and the provider's published identity (its trusted list):",
        ],
    ),
    (
        "check_ok",
        [
            "« VALID » : la preuve vient de Sealpost et n'a pas été modifiée ; toute autre réponse dit ce qui ne va pas.",
            "\"VALID\": het bewijs komt van Sealpost en werd niet gewijzigd; elk ander antwoord zegt wat er mis is.",
            "\"VALID\": the proof comes from Sealpost and was not changed; any other answer says what is wrong.",
        ],
    ),
    ("ev_file", ["preuve", "bewijs", "proof"]),
    (
        "trusted_list",
        [
            "Identité du prestataire (liste de confiance)",
            "Identiteit van de dienstverlener (vertrouwenslijst)",
            "The provider's identity (trusted list)",
        ],
    ),
    (
        "ev_SubmissionAcceptance",
        [
            "Preuve de dépôt",
            "Bewijs van verzending",
            "Proof of dispatch",
        ],
    ),
    (
        "ev_SubmissionAcceptance_says",
        [
            "l'expéditeur a remis ce courrier à Sealpost le {date}.",
            "de afzender heeft deze brief op {date} aan Sealpost overhandigd.",
            "the sender handed this letter to Sealpost on {date}.",
        ],
    ),
    (
        "ev_ContentConsignment",
        [
            "Preuve de remise",
            "Bewijs van bezorging",
            "Proof of delivery",
        ],
    ),
    (
        "ev_ContentConsignment_says",
        [
            "Sealpost a déposé ce courrier dans la boîte aux lettres le {date}.",
            "Sealpost heeft deze brief op {date} in de brievenbus bezorgd.",
            "Sealpost placed this letter in the mailbox on {date}.",
        ],
    ),
    (
        "ev_ContentHandover",
        [
            "Preuve d'ouverture",
            "Bewijs van opening",
            "Proof of opening",
        ],
    ),
    (
        "ev_ContentHandover_says",
        [
            "{who} a ouvert ce courrier le {date}.",
            "{who} heeft deze brief op {date} geopend.",
            "{who} opened this letter on {date}.",
        ],
    ),
    (
        "ev_SubmissionRejection",
        [
            "Refus du courrier",
            "Weigering van de brief",
            "Refusal of the letter",
        ],
    ),
    (
        "ev_SubmissionRejection_says",
        [
            "Sealpost a refusé ce courrier le {date} : {reason}.",
            "Sealpost heeft deze brief op {date} geweigerd: {reason}.",
            "Sealpost refused this letter on {date}: {reason}.",
        ],
    ),
    (
        "ev_ContentConsignmentFailure",
        [
            "Échec de la remise",
            "Mislukte bezorging",
            "Failed delivery",
        ],
    ),
    (
        "ev_ContentConsignmentFailure_says",
        [
            "ce courrier n'a pas pu être déposé dans la boîte aux lettres le {date} : {reason}.",
            "deze brief kon op {date} niet in de brievenbus bezorgd worden: {reason}.",
            "this letter could not be placed in the mailbox on {date}: {reason}.",
        ],
    ),
    ("ev_other", ["Preuve", "Bewijs", "Proof"]),
    (
        "ev_other_says",
        [
            "preuve scellée du {date}.",
            "verzegeld bewijs van {date}.",
            "sealed proof of {date}.",
        ],
    ),
    ("someone", ["Une personne", "Iemand", "Someone"]),
    (
        "no_reason",
        [
            "sans motif indiqué",
            "zonder opgegeven reden",
            "no reason given",
        ],
    ),
    (
        "unknown_date",
        [
            "(date illisible)",
            "(onleesbare datum)",
            "(date unreadable)",
        ],
    ),
    (
        "back",
        [
            "Retour à la boîte",
            "Terug naar de brievenbus",
            "Back to the inbox",
        ],
    ),
    ("logout", ["Se déconnecter", "Afmelden", "Log out"]),
    ("mandates", ["Mandats", "Mandaten", "Mandates"]),
    ("company", ["Entreprise", "Onderneming", "Company"]),
    (
        "person",
        [
            "Personne (identifiant)",
            "Persoon (gebruikersnaam)",
            "Person (user name)",
        ],
    ),
    (
        "types",
        [
            "Types de message (séparés par des virgules ; vide : tous)",
            "Berichttypes (gescheiden door komma's; leeg: alle)",
            "Message types (comma-separated; empty: all)",
        ],
    ),
    (
        "until",
        [
            "Valable jusqu'au (AAAA-MM-JJ)",
            "Geldig tot (JJJJ-MM-DD)",
            "Valid until (YYYY-MM-DD)",
        ],
    ),
    (
        "valid_until",
        ["valable jusqu'au", "geldig tot", "valid until"],
    ),
    (
        "grant",
        [
            "Accorder le mandat",
            "Mandaat toekennen",
            "Grant the mandate",
        ],
    ),
    ("revoke", ["Révoquer", "Intrekken", "Revoke"]),
    ("revoked", ["révoqué", "ingetrokken", "revoked"]),
    (
        "bad_mandate",
        [
            "Mandat refusé : vérifiez l'entreprise, la personne et la date.",
            "Mandaat geweigerd: controleer de onderneming, de persoon en de datum.",
            "Mandate refused: check the company, the person and the date.",
        ],
    ),
    (
        "not_found",
        [
            "Cette page n'existe pas",
            "Deze pagina bestaat niet",
            "This page does not exist",
        ],
    ),
    (
        "not_found_intro",
        [
            "L'adresse est peut-être mal tapée, ou le lien est ancien.",
            "Het adres is misschien verkeerd getypt, of de link is oud.",
            "The address may be mistyped, or the link is old.",
        ],
    ),
    (
        "open_mailbox",
        [
            "Ouvrir ma boîte aux lettres",
            "Mijn brievenbus openen",
            "Open my mailbox",
        ],
    ),
    (
        "error",
        [
            "Le service est momentanément indisponible.",
            "De dienst is even niet beschikbaar.",
            "The service is unavailable for a moment.",
        ],
    ),
    ("error_title", ["Erreur", "Fout", "Error"]),
    (
        "bad_form",
        [
            "Le formulaire a expiré ; recommencez.",
            "Het formulier is verlopen; probeer het opnieuw.",
            "The form has expired; please try again.",
        ],
    ),
    (
        "sha256",
        [
            "Empreinte SHA-256",
            "SHA-256-vingerafdruk",
            "SHA-256 fingerprint",
        ],
    ),
    ("size", ["octets", "bytes", "bytes"]),
    (
        "deletion_cancelled",
        [
            "Votre compte, inutilisé depuis longtemps, devait être supprimé ; votre connexion a annulé la suppression.",
            "Uw account, lange tijd niet gebruikt, zou verwijderd worden; door u aan te melden is de verwijdering geannuleerd.",
            "Your account, unused for a long time, was due to be deleted; logging in cancelled the deletion.",
        ],
    ),
    (
        "or_certificate",
        [
            "Ou avec un certificat",
            "Of met een certificaat",
            "Or with a certificate",
        ],
    ),
    (
        "certificate_intro",
        [
            "Votre navigateur présente votre certificat (carte d'identité électronique ou certificat personnel).",
            "Uw browser toont uw certificaat (elektronische identiteitskaart of persoonlijk certificaat).",
            "Your browser presents your certificate (electronic identity card or personal certificate).",
        ],
    ),
    (
        "certificate_login",
        [
            "Se connecter avec mon certificat",
            "Aanmelden met mijn certificaat",
            "Log in with my certificate",
        ],
    ),
    (
        "bad_certificate",
        [
            "Aucun certificat reconnu n'a été présenté.",
            "Er werd geen erkend certificaat voorgelegd.",
            "No recognised certificate was presented.",
        ],
    ),
    (
        "skip",
        ["Aller au contenu", "Naar de inhoud", "Skip to content"],
    ),
    ("menu", ["Menu", "Menu", "Menu"]),
    ("language", ["Langue", "Taal", "Language"]),
    (
        "operated_by",
        [
            "Service opéré par",
            "Dienst beheerd door",
            "Service operated by",
        ],
    ),
    ("logged_in_as", ["Connecté :", "Aangemeld:", "Logged in:"]),
    (
        "stronger_login_title",
        [
            "Connexion plus forte requise",
            "Sterkere aanmelding vereist",
            "A stronger login is needed",
        ],
    ),
    (
        "stronger_login",
        [
            "Ce courrier demande une connexion plus forte : déconnectez-vous et reconnectez-vous avec votre carte d'identité électronique ou votre certificat.",
            "Deze brief vraagt een sterkere aanmelding: meld u af en opnieuw aan met uw elektronische identiteitskaart of uw certificaat.",
            "This letter needs a stronger login: log out and log in again with your electronic identity card or your certificate.",
        ],
    ),
    (
        "saml_login",
        [
            "Se connecter avec votre fournisseur d'identité",
            "Aanmelden met uw identiteitsprovider",
            "Log in with your identity provider",
        ],
    ),
    (
        "oidc_login",
        [
            "Se connecter avec votre fournisseur OpenID Connect",
            "Aanmelden met uw OpenID Connect-provider",
            "Log in with your OpenID Connect provider",
        ],
    ),
    ("help", ["Aide", "Hulp", "Help"]),
    ("contact", ["Contact", "Contact", "Contact"]),
    ("privacy", ["Vie privée", "Privacy", "Privacy"]),
    (
        "legal",
        [
            "Mentions légales",
            "Juridische vermeldingen",
            "Legal notice",
        ],
    ),
    (
        "times_in",
        [
            "Heures indiquées dans le fuseau horaire {zone}.",
            "Tijden in de tijdzone {zone}.",
            "Times are shown in the {zone} time zone.",
        ],
    ),
    (
        "logged_out",
        [
            "Vous êtes déconnecté",
            "U bent afgemeld",
            "You are logged out",
        ],
    ),
    (
        "logged_out_intro",
        [
            "Votre session est terminée. Sur un ordinateur partagé, fermez aussi le navigateur.",
            "Uw sessie is beëindigd. Sluit op een gedeelde computer ook de browser.",
            "Your session has ended. On a shared computer, close the browser too.",
        ],
    ),
    (
        "login_again",
        ["Se reconnecter", "Opnieuw aanmelden", "Log in again"],
    ),
    (
        "help_intro",
        [
            "Cette boîte aux lettres reçoit vos courriers recommandés électroniques. Chaque étape (dépôt par l'expéditeur, remise dans la boîte, ouverture) est attestée par une preuve scellée et horodatée, qui a la même valeur qu'un accusé de réception.",
            "In deze brievenbus ontvangt u uw elektronische aangetekende brieven. Elke stap (verzending door de afzender, bezorging in de brievenbus, opening) wordt bevestigd door een verzegeld bewijs met tijdstempel, dat dezelfde waarde heeft als een ontvangstbewijs.",
            "This mailbox receives your electronic registered letters. Each step (the sender's dispatch, delivery into the mailbox, opening) is attested by a sealed, time-stamped proof, worth as much as an acknowledgement of receipt.",
        ],
    ),
    (
        "help_login",
        [
            "Pour vous connecter, il vous faut votre identifiant, votre mot de passe et le code de votre application d'authentification, ou votre certificat. Un compte est bloqué quelques instants après plusieurs essais manqués.",
            "Om u aan te melden hebt u uw gebruikersnaam, uw wachtwoord en de code van uw authenticatie-app nodig, of uw certificaat. Na enkele mislukte pogingen wordt een account even geblokkeerd.",
            "To log in you need your user name, your password and the code of your authenticator app, or your certificate. An account is locked for a while after several failed attempts.",
        ],
    ),
    (
        "help_opening",
        [
            "Ouvrir un courrier (sa page, un document ou une preuve) est enregistré à votre nom : la première ouverture produit la preuve d'ouverture que l'expéditeur reçoit.",
            "Het openen van een brief (de pagina, een document of een bewijs) wordt op uw naam geregistreerd: de eerste opening levert het bewijs van opening op dat de afzender krijgt.",
            "Opening a letter (its page, a document or a proof) is recorded in your name: the first opening makes the proof of opening that the sender receives.",
        ],
    ),
    (
        "help_contact",
        [
            "Une question, un problème de connexion ? Contactez l'opérateur :",
            "Een vraag, een probleem met aanmelden? Neem contact op met de beheerder:",
            "A question, trouble logging in? Contact the operator:",
        ],
    ),
    (
        "privacy_text",
        [
            "L'opérateur conserve votre identifiant, votre nom, votre numéro de registre national, vos courriers, leurs preuves et le journal de qui les a lus, pendant les durées de conservation qu'il a fixées ; un compte inutilisé longtemps est supprimé après un avis. Rien n'est utilisé à d'autres fins. Aucun cookie de suivi : seulement un cookie de session et un cookie de langue.",
            "De beheerder bewaart uw gebruikersnaam, uw naam, uw rijksregisternummer, uw brieven, hun bewijzen en het register van wie ze gelezen heeft, gedurende de bewaartermijnen die hij vastgelegd heeft; een account die lang niet gebruikt wordt, wordt na een bericht verwijderd. Niets wordt voor andere doeleinden gebruikt. Er zijn geen volgcookies: alleen een sessiecookie en een taalcookie.",
            "The operator keeps your user name, your name, your national register number, your letters, their proofs and the journal of who read them, for the retention periods it has set; an account unused for a long time is deleted after a notice. Nothing is used for any other purpose. There are no tracking cookies: only a session cookie and a language cookie.",
        ],
    ),
    (
        "privacy_more",
        [
            "La déclaration complète de l'opérateur :",
            "De volledige verklaring van de beheerder:",
            "The operator's full statement:",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_the_ui_uses_exists_in_three_languages() {
        let sources = [
            include_str!("html.rs"),
            include_str!("login.rs"),
            include_str!("inbox.rs"),
            include_str!("letters.rs"),
            include_str!("delivery.rs"),
            include_str!("mandates.rs"),
            include_str!("password.rs"),
            include_str!("requests.rs"),
            include_str!("help.rs"),
            include_str!("evidence.rs"),
        ];
        let mut used = 0;
        for source in sources {
            for (at, _) in source.match_indices("lang, \"") {
                let rest = &source[at + 7..];
                let key = &rest[..rest.find('"').expect("a closing quote")];
                assert!(
                    TEXTS.iter().any(|(k, _)| *k == key),
                    "the text {key:?} is used but not written"
                );
                used += 1;
            }
        }
        assert!(used > 50, "only {used} uses found: the scan is broken");
        for (key, texts) in TEXTS {
            assert!(
                texts.iter().all(|t| !t.is_empty()),
                "{key}: a text is empty"
            );
            assert_eq!(
                TEXTS.iter().filter(|(k, _)| k == key).count(),
                1,
                "{key} twice"
            );
        }
    }

    #[test]
    fn languages_come_from_the_query_then_the_cookie_then_the_browser() {
        use axum::http::HeaderValue;
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("nl-BE,nl;q=0.9,en;q=0.5"),
        );
        assert_eq!(lang(&h, None), Lang::Nl);
        h.insert(header::COOKIE, HeaderValue::from_static("lang=en"));
        assert_eq!(lang(&h, None), Lang::En);
        assert_eq!(lang(&h, Some("fr")), Lang::Fr);
        assert_eq!(lang(&h, Some("xx")), Lang::En);
        assert_eq!(lang(&HeaderMap::new(), None), Lang::Fr);
        assert_eq!(Lang::from_code("NL"), Some(Lang::Nl));
        assert_eq!(Lang::from_code("e"), None);
    }
}
