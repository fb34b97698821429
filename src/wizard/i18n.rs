//! The wizard's languages: English, Dutch and French, chosen from the OS locale or `--lang`.
//!
//! Strings are written in English at the call site and looked up here (the gettext pattern);
//! a string without a translation shows in English (a test fails when one is missing). The
//! configuration validators' messages and the checks' findings and fixes arrive as data and
//! are worded by `words`, whose strings are part of this catalog. This module only maps text;
//! it must never see a password.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Nl,
    Fr,
}

impl Lang {
    /// From a tag such as `nl`, `fr-BE`, `nl_NL.UTF-8`; `None` for anything else.
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        let primary = t.split(['-', '_', '.', '@']).next().unwrap_or_default();
        match primary {
            "en" => Some(Lang::En),
            "nl" => Some(Lang::Nl),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The OS display language (LC_ALL / LC_MESSAGES / LANG on Linux, the user locale on
    /// Windows), English when it is none of ours.
    pub fn from_os() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() && v != "C" && v != "POSIX" {
                    return Lang::parse(&v).unwrap_or(Lang::En);
                }
            }
        }
        sys_locale::get_locale()
            .and_then(|l| Lang::parse(&l))
            .unwrap_or(Lang::En)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::Fr => "fr",
        }
    }

    /// The translation of an English string.
    pub fn t(self, en: &'static str) -> &'static str {
        if self == Lang::En {
            return en;
        }
        match table().get(en) {
            Some((nl, fr)) => match self {
                Lang::Nl => nl,
                _ => fr,
            },
            None => en,
        }
    }

    /// The translation of an English template, with each `{}` replaced by the next argument.
    pub fn f(self, en: &'static str, args: &[&str]) -> String {
        let mut out = String::new();
        let mut parts = self.t(en).split("{}");
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        for (i, p) in parts.enumerate() {
            out.push_str(args.get(i).copied().unwrap_or_default());
            out.push_str(p);
        }
        out
    }
}

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| {
        STRINGS
            .iter()
            .chain(super::words::STRINGS)
            .map(|(en, nl, fr)| (*en, (*nl, *fr)))
            .collect()
    })
}

/// (English, Dutch, French).
pub const STRINGS: &[(&str, &str, &str)] = &[
    (
        "EAS Connector Setup",
        "EAS Connector installatie",
        "Installation d’EAS Connector",
    ),
    (
        "Lab Exchange {} is running on {} ({} servers, {} devices). Every page is filled in.",
        "Lab-Exchange {} draait op {} ({} servers, {} apparaten). Alle pagina’s zijn ingevuld.",
        "Exchange de labo {} actif sur {} ({} serveurs, {} appareils). Toutes les pages sont remplies.",
    ),
    (
        "Apply",
        "Toepassen",
        "Appliquer",
    ),
    (
        "Finish",
        "Voltooien",
        "Terminer",
    ),
    (
        "Next",
        "Volgende",
        "Suivant",
    ),
    (
        "Back",
        "Vorige",
        "Précédent",
    ),
    (
        "Cancel",
        "Annuleren",
        "Annuler",
    ),
    (
        "Step {} of {}",
        "Stap {} van {}",
        "Étape {} sur {}",
    ),
    (
        "Enter: Next · Esc: Cancel · Tab: next field · Alt+letter: option",
        "Enter: volgende · Esc: annuleren · Tab: volgend veld · Alt+letter: optie",
        "Entrée : suivant · Échap : annuler · Tab : champ suivant · Alt+lettre : option",
    ),
    (
        "Cancel setup?",
        "Installatie annuleren?",
        "Annuler l’installation ?",
    ),
    (
        "Nothing has been written yet; the connector stays as it was.",
        "Er is nog niets weggeschreven; de connector blijft zoals hij was.",
        "Rien n’a encore été écrit ; le connecteur reste tel quel.",
    ),
    (
        "Continue setup",
        "Doorgaan",
        "Continuer",
    ),
    (
        "Cancel setup",
        "Installatie annuleren",
        "Annuler l’installation",
    ),
    (
        "Enter: cancel setup · Esc: continue",
        "Enter: annuleren · Esc: doorgaan",
        "Entrée : annuler · Échap : continuer",
    ),
    (
        "Welcome",
        "Welkom",
        "Bienvenue",
    ),
    (
        "Exchange server type",
        "Type Exchange-server",
        "Type de serveur Exchange",
    ),
    (
        "Server",
        "Server",
        "Serveur",
    ),
    (
        "Proxy",
        "Proxy",
        "Proxy",
    ),
    (
        "Service account",
        "Serviceaccount",
        "Compte de service",
    ),
    (
        "Notification account",
        "Meldingsaccount",
        "Compte de notification",
    ),
    (
        "Options",
        "Opties",
        "Options",
    ),
    (
        "Connect",
        "Verbinden",
        "Connexion",
    ),
    (
        "Summary",
        "Overzicht",
        "Récapitulatif",
    ),
    (
        "Done",
        "Klaar",
        "Terminé",
    ),
    (
        "Set up the connector between Exchange ActiveSync and your device policy.",
        "Stel de connector in tussen Exchange ActiveSync en uw apparaatbeleid.",
        "Configurez le connecteur entre Exchange ActiveSync et votre stratégie d’appareils.",
    ),
    (
        "Choose how the connector reaches your Exchange organization.",
        "Kies hoe de connector uw Exchange-organisatie bereikt.",
        "Choisissez comment le connecteur atteint votre organisation Exchange.",
    ),
    (
        "Which server the connector talks to.",
        "Met welke server de connector praat.",
        "Le serveur auquel le connecteur s’adresse.",
    ),
    (
        "How this computer reaches Exchange.",
        "Hoe deze computer Exchange bereikt.",
        "Comment cet ordinateur atteint Exchange.",
    ),
    (
        "The account that manages mobile devices in Exchange.",
        "Het account dat mobiele apparaten in Exchange beheert.",
        "Le compte qui gère les appareils mobiles dans Exchange.",
    ),
    (
        "The mailbox that tells users what to do.",
        "Het postvak dat gebruikers vertelt wat ze moeten doen.",
        "La boîte aux lettres qui indique aux utilisateurs quoi faire.",
    ),
    (
        "Failover, performance and sync schedule.",
        "Failover, prestaties en synchronisatieschema.",
        "Basculement, performances et planification de la synchronisation.",
    ),
    (
        "Checking that everything works, before anything is written.",
        "Controleren of alles werkt, voordat er iets wordt weggeschreven.",
        "Vérification que tout fonctionne, avant toute écriture.",
    ),
    (
        "What will be written, and where.",
        "Wat er wordt weggeschreven, en waar.",
        "Ce qui sera écrit, et où.",
    ),
    (
        "Writing the configuration and passwords, and registering the service.",
        "De configuratie en wachtwoorden wegschrijven en de service registreren.",
        "Écriture de la configuration et des mots de passe, enregistrement du service.",
    ),
    (
        "The connector is set up.",
        "De connector is ingesteld.",
        "Le connecteur est configuré.",
    ),
    (
        "Applying… This takes a few seconds; a failure undoes every step already done.",
        "Bezig met toepassen… Dit duurt enkele seconden; bij een fout wordt elke voltooide stap teruggedraaid.",
        "Application en cours… Quelques secondes ; en cas d’échec, chaque étape déjà faite est annulée.",
    ),
    (
        "Done. Press Next.",
        "Klaar. Klik op Volgende.",
        "Terminé. Cliquez sur Suivant.",
    ),
    (
        "Setup failed and everything was rolled back: {}",
        "De installatie is mislukt en alles is teruggedraaid: {}",
        "L’installation a échoué et tout a été annulé : {}",
    ),
    (
        "Undone: {}",
        "Teruggedraaid: {}",
        "Annulé : {}",
    ),
    (
        "Checking… {} of {} done. The checks run at the same time; each stops after 20 s.",
        "Bezig met controleren… {} van {} klaar. De controles lopen tegelijk; elke controle stopt na 20 s.",
        "Vérification… {} sur {} terminées. Les contrôles tournent en parallèle ; chacun s’arrête après 20 s.",
    ),
    (
        "Cancelled. Press Retry to check again.",
        "Geannuleerd. Klik op Opnieuw om opnieuw te controleren.",
        "Annulé. Cliquez sur Réessayer pour vérifier à nouveau.",
    ),
    (
        "All required checks passed in {} ms.",
        "Alle vereiste controles geslaagd in {} ms.",
        "Tous les contrôles requis ont réussi en {} ms.",
    ),
    (
        "Some checks failed. Follow the fix under each, go Back to change a setting, then Retry.",
        "Sommige controles zijn mislukt. Volg de oplossing eronder, ga Terug om een instelling te wijzigen en klik op Opnieuw.",
        "Certains contrôles ont échoué. Suivez la correction indiquée, revenez en arrière pour modifier un paramètre, puis Réessayer.",
    ),
    (
        "Not run yet.",
        "Nog niet uitgevoerd.",
        "Pas encore exécuté.",
    ),
    (
        "Retry",
        "Opnieuw",
        "Réessayer",
    ),
    (
        "Cancel checks",
        "Controles stoppen",
        "Arrêter les contrôles",
    ),
    (
        "Copied",
        "Gekopieerd",
        "Copié",
    ),
    (
        "Copy report",
        "Rapport kopiëren",
        "Copier le rapport",
    ),
    (
        "Fix: {}",
        "Oplossing: {}",
        "Correction : {}",
    ),
    (
        "checking…",
        "bezig…",
        "en cours…",
    ),
    (
        "EAS Connector is configured.",
        "EAS Connector is geconfigureerd.",
        "EAS Connector est configuré.",
    ),
    (
        "Configuration file",
        "Configuratiebestand",
        "Fichier de configuration",
    ),
    (
        "Passwords",
        "Wachtwoorden",
        "Mots de passe",
    ),
    (
        "The service runs its first sync now; see the log folder or `eas-connector status`.",
        "De service voert nu zijn eerste synchronisatie uit; zie de logmap of `eas-connector status`.",
        "Le service effectue maintenant sa première synchronisation ; voir le dossier des journaux ou `eas-connector status`.",
    ),
    (
        "not registered (configuration only)",
        "niet geregistreerd (alleen configuratie)",
        "non enregistré (configuration seulement)",
    ),
    (
        "No sync runs until the service is registered and started.",
        "Er wordt niet gesynchroniseerd totdat de service is geregistreerd en gestart.",
        "Aucune synchronisation tant que le service n’est pas enregistré et démarré.",
    ),
    (
        "Service",
        "Service",
        "Service",
    ),
    (
        "First sync",
        "Eerste synchronisatie",
        "Première synchronisation",
    ),
    (
        "Open configuration folder",
        "Configuratiemap openen",
        "Ouvrir le dossier de configuration",
    ),
    (
        "Open log folder",
        "Logmap openen",
        "Ouvrir le dossier des journaux",
    ),
    (
        "Users get an email when their device is blocked or quarantined. Give the account that sends it, through Exchange Web Services.",
        "Gebruikers krijgen een e-mail als hun apparaat wordt geblokkeerd of in quarantaine gaat. Geef het account dat deze verstuurt via Exchange Web Services.",
        "Les utilisateurs reçoivent un e-mail quand leur appareil est bloqué ou mis en quarantaine. Indiquez le compte qui l’envoie via Exchange Web Services.",
    ),
    (
        "Account",
        "Account",
        "Compte",
    ),
    (
        "DOMAIN\\user or user@contoso.com",
        "DOMEIN\\gebruiker of gebruiker@contoso.com",
        "DOMAINE\\utilisateur ou utilisateur@contoso.com",
    ),
    (
        "Mailbox (sender address)",
        "Postvak (afzenderadres)",
        "Boîte aux lettres (adresse d’expéditeur)",
    ),
    (
        "Password",
        "Wachtwoord",
        "Mot de passe",
    ),
    (
        "stored; leave empty to keep",
        "opgeslagen; leeg laten om te behouden",
        "enregistré ; laisser vide pour le conserver",
    ),
    (
        "A password is stored; type a new one only to change it.",
        "Er is een wachtwoord opgeslagen; typ alleen een nieuw om het te wijzigen.",
        "Un mot de passe est enregistré ; n’en saisissez un nouveau que pour le changer.",
    ),
    (
        "Fail over to other Client Access Servers when one does not answer",
        "Overschakelen naar andere Client Access Servers als er één niet antwoordt",
        "Basculer vers d’autres serveurs d’accès client si l’un ne répond pas",
    ),
    (
        "Run commands in parallel (faster for many devices)",
        "Opdrachten parallel uitvoeren (sneller bij veel apparaten)",
        "Exécuter les commandes en parallèle (plus rapide avec beaucoup d’appareils)",
    ),
    (
        "Parallel runspaces",
        "Parallelle runspaces",
        "Runspaces parallèles",
    ),
    (
        "1 to 16",
        "1 tot 16",
        "1 à 16",
    ),
    (
        "Quick sync every (minutes)",
        "Snelle synchronisatie elke (minuten)",
        "Synchronisation rapide toutes les (minutes)",
    ),
    (
        "5 to 1440",
        "5 tot 1440",
        "5 à 1440",
    ),
    (
        "Full sync daily at",
        "Volledige synchronisatie dagelijks om",
        "Synchronisation complète chaque jour à",
    ),
    (
        "HH:MM, 24-hour, local time",
        "UU:MM, 24-uurs, lokale tijd",
        "HH:MM, sur 24 heures, heure locale",
    ),
    (
        "Does this computer reach Exchange through an HTTP proxy?",
        "Bereikt deze computer Exchange via een HTTP-proxy?",
        "Cet ordinateur atteint-il Exchange via un proxy HTTP ?",
    ),
    (
        "Use a proxy server",
        "Een proxyserver gebruiken",
        "Utiliser un serveur proxy",
    ),
    (
        "Proxy host",
        "Proxyhost",
        "Hôte du proxy",
    ),
    (
        "Port",
        "Poort",
        "Port",
    ),
    (
        "The proxy requires a user name and password",
        "De proxy vereist een gebruikersnaam en wachtwoord",
        "Le proxy exige un nom d’utilisateur et un mot de passe",
    ),
    (
        "Proxy user",
        "Proxygebruiker",
        "Utilisateur du proxy",
    ),
    (
        "Proxy password",
        "Proxywachtwoord",
        "Mot de passe du proxy",
    ),
    (
        "Client Access Server",
        "Client Access Server",
        "Serveur d’accès client",
    ),
    (
        "host[:port], e.g. cas01.contoso.com, connects over HTTPS. An Exchange with Microsoft's default settings is reached at http://<fqdn>/PowerShell/: sign-in with Kerberos, every message encrypted.",
        "host[:poort], bv. cas01.contoso.com, verbindt via HTTPS. Een Exchange met de standaardinstellingen van Microsoft is bereikbaar op http://<fqdn>/PowerShell/: aanmelden met Kerberos, elk bericht versleuteld.",
        "hôte[:port], p. ex. cas01.contoso.com, se connecte en HTTPS. Un Exchange aux réglages par défaut de Microsoft est joignable à http://<fqdn>/PowerShell/ : connexion Kerberos, chaque message chiffré.",
    ),
    (
        "Kerberos realm: {} ({})",
        "Kerberos-realm: {} ({})",
        "Domaine Kerberos : {} ({})",
    ),
    (
        "from Kerberos/Realm",
        "uit Kerberos/Realm",
        "d’après Kerberos/Realm",
    ),
    (
        "from the account's UPN suffix",
        "uit het UPN-achtervoegsel van het account",
        "d’après le suffixe UPN du compte",
    ),
    (
        "from the Exchange server's DNS domain",
        "uit het DNS-domein van de Exchange-server",
        "d’après le domaine DNS du serveur Exchange",
    ),
    (
        "Kerberos realm: not found — {}. To use Kerberos, enter the realm under the advanced settings.",
        "Kerberos-realm: niet gevonden — {}. Vul de realm in bij de geavanceerde instellingen om Kerberos te gebruiken.",
        "Domaine Kerberos : introuvable — {}. Pour utiliser Kerberos, indiquez le domaine dans les paramètres avancés.",
    ),
    (
        "Show advanced Kerberos settings",
        "Geavanceerde Kerberos-instellingen tonen",
        "Afficher les paramètres Kerberos avancés",
    ),
    (
        "Kerberos realm (optional)",
        "Kerberos-realm (optioneel)",
        "Domaine Kerberos (facultatif)",
    ),
    (
        "The Active Directory DNS domain. Empty: the account's UPN suffix, else the Exchange server's DNS domain.",
        "Het Active Directory-DNS-domein. Leeg: het UPN-achtervoegsel van het account, anders het DNS-domein van de Exchange-server.",
        "Le domaine DNS Active Directory. Vide : le suffixe UPN du compte, sinon le domaine DNS du serveur Exchange.",
    ),
    (
        "Domain controllers / KDC (optional)",
        "Domeincontrollers / KDC (optioneel)",
        "Contrôleurs de domaine / KDC (facultatif)",
    ),
    (
        "host[:port], comma-separated. Empty: the realm's DNS SRV records (_kerberos._tcp).",
        "host[:poort], gescheiden door komma’s. Leeg: de DNS-SRV-records van de realm (_kerberos._tcp).",
        "hôte[:port], séparés par des virgules. Vide : les enregistrements SRV DNS du domaine (_kerberos._tcp).",
    ),
    (
        "Service principal name (optional)",
        "Service-principal-naam, SPN (optioneel)",
        "Nom de principal du service, SPN (facultatif)",
    ),
    (
        "Empty: HTTP/<server FQDN>. For a load-balanced name with an alternate service account.",
        "Leeg: HTTP/<FQDN van de server>. Voor een load-balanced naam met een alternatief serviceaccount.",
        "Vide : HTTP/<FQDN du serveur>. Pour un nom à charge répartie avec un compte de service alternatif.",
    ),
    (
        "realm",
        "realm",
        "domaine",
    ),
    (
        "Signed in with {}",
        "Aangemeld met {}",
        "Connecté avec {}",
    ),
    (
        "Kerberos was not used; check 7 says why.",
        "Kerberos is niet gebruikt; controle 7 vermeldt waarom.",
        "Kerberos n’a pas été utilisé ; le contrôle 7 indique pourquoi.",
    ),
    (
        "Hosted server address",
        "Adres van de gehoste server",
        "Adresse du serveur hébergé",
    ),
    (
        "host[:port] or the https:// address your provider gave you.",
        "host[:poort] of het https://-adres van uw provider.",
        "hôte[:port] ou l’adresse https:// fournie par votre hébergeur.",
    ),
    (
        "Show advanced settings",
        "Geavanceerde instellingen tonen",
        "Afficher les paramètres avancés",
    ),
    (
        "EWS URL (optional)",
        "EWS-URL (optioneel)",
        "URL EWS (facultatif)",
    ),
    (
        "Leave empty to find it with Autodiscover.",
        "Leeg laten om hem via Autodiscover te vinden.",
        "Laisser vide pour la trouver via la découverte automatique.",
    ),
    (
        "Trusted CA file (optional)",
        "Vertrouwd CA-bestand (optioneel)",
        "Fichier d’AC de confiance (facultatif)",
    ),
    (
        "Browse…",
        "Bladeren…",
        "Parcourir…",
    ),
    (
        "A PEM file with your internal CA, when Exchange's certificate is not publicly trusted.",
        "Een PEM-bestand met uw interne CA, als het certificaat van Exchange niet publiek vertrouwd is.",
        "Un fichier PEM avec votre AC interne, si le certificat d’Exchange n’est pas approuvé publiquement.",
    ),
    (
        "Where does your Exchange run?",
        "Waar draait uw Exchange?",
        "Où s’exécute votre Exchange ?",
    ),
    (
        "On-premises Exchange Server (2010 SP3 – 2019, Subscription Edition)",
        "Exchange Server on-premises (2010 SP3 – 2019, Subscription Edition)",
        "Exchange Server sur site (2010 SP3 – 2019, Subscription Edition)",
    ),
    (
        "Hosted Exchange (a provider runs it for you)",
        "Gehoste Exchange (een provider beheert hem voor u)",
        "Exchange hébergé (un fournisseur l’exploite pour vous)",
    ),
    (
        "Exchange Online (Microsoft 365) is not supported: it has its own device access controls.",
        "Exchange Online (Microsoft 365) wordt niet ondersteund: het heeft eigen toegangsbeheer voor apparaten.",
        "Exchange Online (Microsoft 365) n’est pas pris en charge : il a ses propres contrôles d’accès des appareils.",
    ),
    (
        "The account the connector uses for Exchange remote PowerShell. It needs the Organization Management role, or a role with the Get-/Set-CASMailbox and ActiveSync device cmdlets.",
        "Het account waarmee de connector Exchange remote PowerShell gebruikt. Het heeft de rol Organization Management nodig, of een rol met de cmdlets Get-/Set-CASMailbox en die voor ActiveSync-apparaten.",
        "Le compte utilisé par le connecteur pour PowerShell à distance d’Exchange. Il lui faut le rôle Organization Management, ou un rôle avec les cmdlets Get-/Set-CASMailbox et celles des appareils ActiveSync.",
    ),
    (
        "Kept in the operating system's credential store, never in the configuration file.",
        "Bewaard in de referentieopslag van het besturingssysteem, nooit in het configuratiebestand.",
        "Conservé dans le magasin d’identifiants du système, jamais dans le fichier de configuration.",
    ),
    (
        "systemd credentials in the organization's Credentials folder: encrypted with this machine's key; only root and the service (when it starts) can read them.",
        "systemd-credentials in de map Credentials van de organisatie: versleuteld met de sleutel van deze machine; alleen root en de service (bij het starten) kunnen ze lezen.",
        "Identifiants systemd dans le dossier Credentials de l’organisation : chiffrés avec la clé de cette machine ; seuls root et le service (à son démarrage) peuvent les lire.",
    ),
    (
        "Windows Credential Manager, and an encrypted copy (DPAPI) for the service that only SYSTEM and Administrators can read.",
        "Windows Referentiebeheer, en een versleutelde kopie (DPAPI) voor de service die alleen SYSTEM en Administrators kunnen lezen.",
        "Le Gestionnaire d’identification Windows, et une copie chiffrée (DPAPI) pour le service, lisible par SYSTEM et Administrateurs seulement.",
    ),
    (
        "Your desktop keyring (the Secret Service).",
        "Uw bureaublad-sleutelhanger (de Secret Service).",
        "Votre trousseau de bureau (le Secret Service).",
    ),
    (
        "The file ConnectorSecrets.json beside the configuration: NOT encrypted, readable by its owner only (mode 0600). Move the passwords with `eas-connector config migrate-secrets`.",
        "Het bestand ConnectorSecrets.json naast de configuratie: NIET versleuteld, alleen leesbaar voor de eigenaar (modus 0600). Verplaats de wachtwoorden met `eas-connector config migrate-secrets`.",
        "Le fichier ConnectorSecrets.json à côté de la configuration : NON chiffré, lisible par son seul propriétaire (mode 0600). Déplacez les mots de passe avec `eas-connector config migrate-secrets`.",
    ),
    (
        "Your desktop keyring (the Secret Service); if this account has none, the file ConnectorSecrets.json: NOT encrypted, readable by its owner only, and said every time.",
        "Uw bureaublad-sleutelhanger (de Secret Service); heeft dit account er geen, dan het bestand ConnectorSecrets.json: NIET versleuteld, alleen leesbaar voor de eigenaar, en dat wordt elke keer gemeld.",
        "Votre trousseau de bureau (le Secret Service) ; si ce compte n’en a pas, le fichier ConnectorSecrets.json : NON chiffré, lisible par son seul propriétaire, et signalé à chaque fois.",
    ),
    (
        "none",
        "geen",
        "aucun",
    ),
    (
        "none typed; the stored ones are kept",
        "geen ingevoerd; de opgeslagen blijven behouden",
        "aucun saisi ; ceux enregistrés sont conservés",
    ),
    (
        "Press Apply to write this. Nothing has been changed yet.",
        "Klik op Toepassen om dit weg te schrijven. Er is nog niets gewijzigd.",
        "Cliquez sur Appliquer pour l’écrire. Rien n’a encore été modifié.",
    ),
    (
        "Exchange server",
        "Exchange-server",
        "Serveur Exchange",
    ),
    (
        "Notification mailbox",
        "Meldingspostvak",
        "Boîte de notification",
    ),
    (
        "Passwords to store",
        "Op te slaan wachtwoorden",
        "Mots de passe à enregistrer",
    ),
    (
        "Passwords go to",
        "Wachtwoorden gaan naar",
        "Les mots de passe vont dans",
    ),
    (
        "The existing configuration is replaced; the previous file is kept as ConnectorServiceConfiguration.xml.bak.",
        "De bestaande configuratie wordt vervangen; het vorige bestand blijft bewaard als ConnectorServiceConfiguration.xml.bak.",
        "La configuration existante est remplacée ; le fichier précédent est conservé sous ConnectorServiceConfiguration.xml.bak.",
    ),
    (
        "The existing configuration is updated in place; settings you added by hand are kept, the previous file is kept as .bak.",
        "De bestaande configuratie wordt bijgewerkt; met de hand toegevoegde instellingen blijven staan, het vorige bestand blijft bewaard als .bak.",
        "La configuration existante est mise à jour ; les réglages ajoutés à la main sont conservés, le fichier précédent est gardé en .bak.",
    ),
    (
        "Register and start the service",
        "De service registreren en starten",
        "Enregistrer et démarrer le service",
    ),
    (
        "Service {} with {}.",
        "Service {} via {}.",
        "Service {} avec {}.",
    ),
    (
        "Only the configuration and passwords are written; no service is registered or started.",
        "Alleen de configuratie en wachtwoorden worden weggeschreven; er wordt geen service geregistreerd of gestart.",
        "Seuls la configuration et les mots de passe sont écrits ; aucun service n’est enregistré ni démarré.",
    ),
    (
        "Write configuration only, no service: the lab lives inside this wizard and stops when it closes, so no service is registered for it.",
        "Alleen configuratie, geen service: het lab draait in deze wizard en stopt als die sluit, dus er wordt geen service voor geregistreerd.",
        "Configuration seulement, sans service : le labo vit dans cet assistant et s’arrête à sa fermeture ; aucun service n’est donc enregistré.",
    ),
    (
        "Write configuration only, no service: no service manager is available to this program (it needs administrator rights, or this build has none). Register the service later with eas-connector.",
        "Alleen configuratie, geen service: dit programma kan geen servicebeheer gebruiken (het heeft beheerdersrechten nodig, of deze build heeft er geen). Registreer de service later met eas-connector.",
        "Configuration seulement, sans service : aucun gestionnaire de services n’est disponible pour ce programme (droits d’administrateur requis, ou absent de cette version). Enregistrez le service plus tard avec eas-connector.",
    ),
    (
        "This wizard connects EAS Connector to your Exchange organization: it asks for the server, the accounts and the options, checks that everything works, then writes the configuration and registers the service.",
        "Deze wizard verbindt EAS Connector met uw Exchange-organisatie: hij vraagt naar de server, de accounts en de opties, controleert of alles werkt en schrijft dan de configuratie weg en registreert de service.",
        "Cet assistant relie EAS Connector à votre organisation Exchange : il demande le serveur, les comptes et les options, vérifie que tout fonctionne, puis écrit la configuration et enregistre le service.",
    ),
    (
        "Organization",
        "Organisatie",
        "Organisation",
    ),
    (
        "Looking for an existing connector…",
        "Zoeken naar een bestaande connector…",
        "Recherche d’un connecteur existant…",
    ),
    (
        "No connector is configured for this organization yet.",
        "Voor deze organisatie is nog geen connector geconfigureerd.",
        "Aucun connecteur n’est encore configuré pour cette organisation.",
    ),
    (
        "Set up new",
        "Nieuw instellen",
        "Nouvelle configuration",
    ),
    (
        "Configure a new connector for this organization.",
        "Een nieuwe connector voor deze organisatie configureren.",
        "Configurer un nouveau connecteur pour cette organisation.",
    ),
    (
        "A connector is already configured for this organization (server {}).",
        "Voor deze organisatie is al een connector geconfigureerd (server {}).",
        "Un connecteur est déjà configuré pour cette organisation (serveur {}).",
    ),
    (
        "Reconfigure",
        "Opnieuw configureren",
        "Reconfigurer",
    ),
    (
        "Change some settings; everything else and the stored passwords are kept.",
        "Enkele instellingen wijzigen; al het andere en de opgeslagen wachtwoorden blijven behouden.",
        "Modifier certains réglages ; le reste et les mots de passe enregistrés sont conservés.",
    ),
    (
        "Replace existing connector",
        "Bestaande connector vervangen",
        "Remplacer le connecteur existant",
    ),
    (
        "Start again from defaults; the current file is kept as a .bak backup.",
        "Opnieuw beginnen met standaardwaarden; het huidige bestand blijft bewaard als .bak.",
        "Repartir des valeurs par défaut ; le fichier actuel est conservé en .bak.",
    ),
    (
        "No Exchange at hand? The built-in lab simulates one on this computer (loopback only) and fills in every page; it writes to the organization “lab”.",
        "Geen Exchange bij de hand? Het ingebouwde lab simuleert er een op deze computer (alleen loopback) en vult elke pagina in; het schrijft naar de organisatie “lab”.",
        "Pas d’Exchange sous la main ? Le labo intégré en simule un sur cet ordinateur (boucle locale uniquement) et remplit chaque page ; il écrit dans l’organisation « lab ».",
    ),
    (
        "Starting the lab Exchange…",
        "Lab-Exchange wordt gestart…",
        "Démarrage de l’Exchange de labo…",
    ),
    (
        "Try it with the built-in lab Exchange",
        "Proberen met de ingebouwde lab-Exchange",
        "Essayer avec l’Exchange de labo intégré",
    ),
    (
        "all checks passed on the Connect page in {} ms",
        "alle controles geslaagd op de pagina Verbinden in {} ms",
        "tous les contrôles ont réussi sur la page Connexion en {} ms",
    ),
    (
        "Configuration",
        "Configuratie",
        "Configuration",
    ),
    (
        "Name resolution (DNS)",
        "Naamomzetting (DNS)",
        "Résolution de noms (DNS)",
    ),
    (
        "TCP connection",
        "TCP-verbinding",
        "Connexion TCP",
    ),
    (
        "TLS certificate",
        "TLS-certificaat",
        "Certificat TLS",
    ),
    (
        "PowerShell endpoint",
        "PowerShell-eindpunt",
        "Point de terminaison PowerShell",
    ),
    (
        "Service account sign-in",
        "Aanmelden serviceaccount",
        "Connexion du compte de service",
    ),
    (
        "Exchange runspace",
        "Exchange-runspace",
        "Runspace Exchange",
    ),
    (
        "Required cmdlets",
        "Vereiste cmdlets",
        "Cmdlets requises",
    ),
    (
        "Client Access Servers",
        "Client Access Servers",
        "Serveurs d’accès client",
    ),
    (
        "Autodiscover (EWS URL)",
        "Autodiscover (EWS-URL)",
        "Découverte automatique (URL EWS)",
    ),
    (
        "Notification account (EWS)",
        "Meldingsaccount (EWS)",
        "Compte de notification (EWS)",
    ),
    (
        "ActiveSync endpoint",
        "ActiveSync-eindpunt",
        "Point de terminaison ActiveSync",
    ),
    (
        "Intune (Microsoft Graph)",
        "Intune (Microsoft Graph)",
        "Intune (Microsoft Graph)",
    ),
    (
        "no Intune source: Cloud/TenantId and Cloud/ApplicationId are not set",
        "geen Intune-bron: Cloud/TenantId en Cloud/ApplicationId zijn niet ingesteld",
        "pas de source Intune : Cloud/TenantId et Cloud/ApplicationId ne sont pas définis",
    ),
    (
        "Validate connectivity",
        "Connectiviteit controleren",
        "Vérifier la connectivité",
    ),
    (
        "Stop the existing service",
        "De bestaande service stoppen",
        "Arrêter le service existant",
    ),
    (
        "Write the configuration",
        "De configuratie wegschrijven",
        "Écrire la configuration",
    ),
    (
        "Store the passwords",
        "De wachtwoorden opslaan",
        "Enregistrer les mots de passe",
    ),
    (
        "Register the service",
        "De service registreren",
        "Enregistrer le service",
    ),
    (
        "Start the service",
        "De service starten",
        "Démarrer le service",
    ),
    (
        "service account password",
        "wachtwoord serviceaccount",
        "mot de passe du compte de service",
    ),
    (
        "notification account password",
        "wachtwoord meldingsaccount",
        "mot de passe du compte de notification",
    ),
    (
        "proxy password",
        "proxywachtwoord",
        "mot de passe du proxy",
    ),
    (
        "Kept in the password store (the operating system's, or an owner-only file where there is none; the Done page says which), never in the configuration file.",
        "Bewaard in de wachtwoordopslag (die van het besturingssysteem, of een bestand dat alleen de eigenaar kan lezen als die er niet is; de pagina Klaar zegt welke), nooit in het configuratiebestand.",
        "Conservé dans le magasin de mots de passe (celui du système, ou un fichier lisible par son seul propriétaire à défaut ; la page Terminé indique lequel), jamais dans le fichier de configuration.",
    ),
    ("Automatic (recommended)", "Automatisch (aanbevolen)", "Automatique (recommandé)"),
    ("Basic (HTTPS only)", "Basic (alleen HTTPS)", "Basic (HTTPS uniquement)"),
    (
        "Automatic signs in with Kerberos when the domain answers, else NTLM; Basic only over HTTPS.",
        "Automatisch meldt aan met Kerberos als het domein antwoordt, anders met NTLM; Basic alleen via HTTPS.",
        "Automatique s’authentifie par Kerberos quand le domaine répond, sinon par NTLM ; Basic seulement en HTTPS.",
    ),
    ("errors", "fouten", "erreurs"),
    ("warnings", "waarschuwingen", "avertissements"),
    ("information (recommended)", "informatie (aanbevolen)", "informations (recommandé)"),
    ("debugging", "foutopsporing", "débogage"),
    ("everything (trace)", "alles (trace)", "tout (trace)"),
    ("Log level", "Logniveau", "Niveau de journalisation"),
    (
        "What the service writes to its log folder; debugging and trace are for support.",
        "Wat de service in zijn logmap schrijft; foutopsporing en trace zijn voor support.",
        "Ce que le service écrit dans son dossier de journaux ; débogage et trace servent au support.",
    ),
    ("Required: fill this in to go on.", "Verplicht: vul dit in om verder te gaan.", "Obligatoire : remplissez ce champ pour continuer."),
    ("Choose what to do: one of the choices above.", "Kies wat u wilt doen: een van de keuzes hierboven.", "Choisissez quoi faire : l’un des choix ci-dessus."),
    ("Wait for the checks to finish.", "Wacht tot de controles klaar zijn.", "Attendez la fin des vérifications."),
    ("Some checks failed: follow the fix under each, then Retry.", "Sommige controles zijn mislukt: volg de oplossing onder elk ervan en kies Opnieuw.", "Certaines vérifications ont échoué : suivez la correction sous chacune, puis Réessayer."),
    ("Wait for the setup to finish.", "Wacht tot de installatie klaar is.", "Attendez la fin de l’installation."),
    ("Fill in “{}” to go on.", "Vul „{}” in om verder te gaan.", "Remplissez « {} » pour continuer."),
    ("Correct “{}”: {}", "Verbeter „{}”: {}", "Corrigez « {} » : {}"),
    ("Write configuration only, no service: registering a service needs administrator rights (root on Linux). Start the setup as administrator to register it now, or later, as administrator:", "Alleen configuratie schrijven, geen service: een service registreren vereist beheerdersrechten (root op Linux). Start de installatie als beheerder om hem nu te registreren, of later, als beheerder:", "Écrire la configuration seulement, sans service : enregistrer un service exige les droits d’administrateur (root sous Linux). Lancez l’installation en administrateur pour l’enregistrer maintenant, ou plus tard, en administrateur :"),
    ("Write configuration only, no service: no service manager runs here ({}). Register the service later, where one runs, as administrator:", "Alleen configuratie schrijven, geen service: hier draait geen servicebeheer ({}). Registreer de service later, waar er een draait, als beheerder:", "Écrire la configuration seulement, sans service : aucun gestionnaire de services ne tourne ici ({}). Enregistrez le service plus tard, là où il en tourne un, en administrateur :"),
    ("Write configuration only, no service: no service manager is available to this program. Register the service later, as administrator:", "Alleen configuratie schrijven, geen service: dit programma heeft geen servicebeheer tot zijn beschikking. Registreer de service later, als beheerder:", "Écrire la configuration seulement, sans service : aucun gestionnaire de services n’est disponible pour ce programme. Enregistrez le service plus tard, en administrateur :"),
    ("No file manager could be opened ({}: {}). The folder is {}", "Er kon geen bestandsbeheerder worden geopend ({}: {}). De map is {}", "Aucun gestionnaire de fichiers n’a pu s’ouvrir ({} : {}). Le dossier est {}"),
    ("No file dialog can open on this computer (no desktop portal): type the file's full path in the box.", "Op deze computer kan geen bestandsvenster openen (geen desktopportaal): typ het volledige pad van het bestand in het vak.", "Aucune boîte de dialogue de fichiers ne peut s’ouvrir sur cet ordinateur (pas de portail de bureau) : tapez le chemin complet du fichier dans le champ."),
    ("Service status", "Status van de service", "État du service"),
    ("running (starting)", "actief (start op)", "actif (démarrage)"),
    ("running (syncing now)", "actief (synchroniseert nu)", "actif (synchronisation en cours)"),
    ("stopping", "stopt", "en cours d’arrêt"),
    ("running (waiting for the next sync)", "actief (wacht op de volgende synchronisatie)", "actif (attend la prochaine synchronisation)"),
    ("running", "actief", "actif"),
    ("not running", "niet actief", "arrêté"),
    ("{}: {} devices from {} in {} ms", "{}: {} apparaten van {} in {} ms", "{} : {} appareils depuis {} en {} ms"),
    ("none yet", "nog geen", "aucune pour l’instant"),
    ("Last quick sync", "Laatste snelle synchronisatie", "Dernière synchronisation rapide"),
    ("Last full sync", "Laatste volledige synchronisatie", "Dernière synchronisation complète"),
    ("Last error", "Laatste fout", "Dernière erreur"),
    ("Next quick sync", "Volgende snelle synchronisatie", "Prochaine synchronisation rapide"),
    ("The service has not run yet for this organization (no status file).", "De service heeft voor deze organisatie nog niet gedraaid (geen statusbestand).", "Le service n’a pas encore tourné pour cette organisation (pas de fichier d’état)."),
    ("Sync now (quick)", "Nu synchroniseren (snel)", "Synchroniser maintenant (rapide)"),
    ("Full sync now", "Nu volledig synchroniseren", "Synchronisation complète maintenant"),
    ("Refresh", "Vernieuwen", "Actualiser"),
    ("The service runs a quick sync now.", "De service voert nu een snelle synchronisatie uit.", "Le service lance maintenant une synchronisation rapide."),
    ("The service runs a full sync now.", "De service voert nu een volledige synchronisatie uit.", "Le service lance maintenant une synchronisation complète."),
    ("Sync now needs the running service: start it with `eas-connector service start`.", "Nu synchroniseren vereist de actieve service: start hem met `eas-connector service start`.", "Synchroniser maintenant exige le service actif : démarrez-le avec `eas-connector service start`."),
    ("Proxy authentication method", "Aanmeldmethode voor de proxy", "Méthode d’authentification du proxy"),
    (
        "Automatic uses what the proxy offers when it asks (Negotiate, NTLM, Basic); the others are sent from the first request.",
        "Automatisch gebruikt wat de proxy aanbiedt als hij erom vraagt (Negotiate, NTLM, Basic); de andere worden vanaf het eerste verzoek meegestuurd.",
        "Automatique utilise ce que le proxy propose quand il le demande (Negotiate, NTLM, Basic) ; les autres sont envoyées dès la première requête.",
    ),
    ("Finding out which password store will be used…", "Nagaan welke wachtwoordopslag gebruikt wordt…", "Recherche du magasin de mots de passe qui sera utilisé…"),
    ("No password store can be used, so Apply will stop before writing anything: {}", "Er is geen bruikbare wachtwoordopslag, dus Toepassen stopt voordat er iets geschreven wordt: {}", "Aucun magasin de mots de passe n’est utilisable, donc Appliquer s’arrêtera avant d’écrire quoi que ce soit : {}"),
    ("Open the access policy", "Toegangsbeleid openen", "Ouvrir la stratégie d’accès"),
    ("There is no access policy yet ({}): syncs stop until there is one, and no device is changed. Start from the example: {}", "Er is nog geen toegangsbeleid ({}): synchronisaties stoppen tot er een is, en er wordt geen apparaat gewijzigd. Begin met het voorbeeld: {}", "Il n’y a pas encore de stratégie d’accès ({}) : les synchronisations s’arrêtent tant qu’il n’y en a pas, et aucun appareil n’est modifié. Partez de l’exemple : {}"),
    ("Compliance source", "Nalevingsbron", "Source de conformité"),
    ("Whether Microsoft Intune's compliance state counts too.", "Of de nalevingsstatus van Microsoft Intune ook meetelt.", "Si l’état de conformité de Microsoft Intune compte aussi."),
    ("Which devices comply: the access policy file alone, or also the compliance state Microsoft Intune keeps for each device (read from Microsoft Graph by an app registered in Entra ID).", "Welke apparaten voldoen: alleen het toegangsbeleidsbestand, of ook de nalevingsstatus die Microsoft Intune per apparaat bijhoudt (gelezen uit Microsoft Graph door een app die in Entra ID is geregistreerd).", "Quels appareils sont conformes : le fichier de stratégie d’accès seul, ou aussi l’état de conformité que Microsoft Intune tient pour chaque appareil (lu dans Microsoft Graph par une application inscrite dans Entra ID)."),
    ("Access policy file only", "Alleen het toegangsbeleidsbestand", "Fichier de stratégie d’accès seulement"),
    ("Intune (Microsoft Graph) and the access policy file", "Intune (Microsoft Graph) en het toegangsbeleidsbestand", "Intune (Microsoft Graph) et le fichier de stratégie d’accès"),
    ("Directory (tenant) ID", "Map-id (tenant)", "ID de l’annuaire (locataire)"),
    ("The tenant's GUID or a verified domain (Entra admin center › Overview).", "De GUID van de tenant of een geverifieerd domein (Entra-beheercentrum › Overzicht).", "Le GUID du locataire ou un domaine vérifié (centre d’administration Entra › Vue d’ensemble)."),
    ("Application (client) ID", "Toepassings-id (client)", "ID d’application (client)"),
    ("The app registration's ID. It needs the application permission DeviceManagementManagedDevices.Read.All, with admin consent.", "De id van de app-registratie. Die heeft de toepassingsmachtiging DeviceManagementManagedDevices.Read.All nodig, met beheerderstoestemming.", "L’ID de l’inscription d’application. Elle a besoin de l’autorisation d’application DeviceManagementManagedDevices.Read.All, avec consentement de l’administrateur."),
    ("Sign-in with", "Aanmelden met", "Connexion par"),
    ("Certificate (recommended)", "Certificaat (aanbevolen)", "Certificat (recommandé)"),
    ("Client secret", "Clientgeheim", "Secret client"),
    ("A certificate is stored; choose a file only to replace it.", "Er is een certificaat bewaard; kies alleen een bestand om het te vervangen.", "Un certificat est conservé ; choisissez un fichier seulement pour le remplacer."),
    ("A PEM file with the certificate and its private key, or a PFX (.pfx/.p12). Its public part (.cer) must be uploaded to the app registration.", "Een PEM-bestand met het certificaat en zijn privésleutel, of een PFX (.pfx/.p12). Het openbare deel (.cer) moet naar de app-registratie zijn geüpload.", "Un fichier PEM avec le certificat et sa clé privée, ou un PFX (.pfx/.p12). Sa partie publique (.cer) doit être téléversée dans l’inscription d’application."),
    ("Certificate file", "Certificaatbestand", "Fichier de certificat"),
    ("PFX password (if it has one)", "PFX-wachtwoord (als het er een heeft)", "Mot de passe du PFX (s’il en a un)"),
    ("Certificate {}, thumbprint {}, valid until {}. Only its key goes to the password store.", "Certificaat {}, vingerafdruk {}, geldig tot {}. Alleen de sleutel gaat naar de wachtwoordopslag.", "Certificat {}, empreinte {}, valable jusqu’au {}. Seule sa clé va dans le magasin de mots de passe."),
    ("Client secret (its Value)", "Clientgeheim (de waarde)", "Secret client (sa valeur)"),
    ("Secrets expire (at most two years): the connector says so when Entra ID refuses it. A certificate is safer.", "Geheimen verlopen (na hoogstens twee jaar): de connector meldt het als Entra ID het weigert. Een certificaat is veiliger.", "Les secrets expirent (au plus deux ans) : le connecteur le signale quand Entra ID le refuse. Un certificat est plus sûr."),
    ("Test the sign-in and read Intune", "Aanmelding testen en Intune lezen", "Tester la connexion et lire Intune"),
    ("Signing in to Entra ID and reading Intune…", "Aanmelden bij Entra ID en Intune lezen…", "Connexion à Entra ID et lecture d’Intune…"),
    ("certificate {} (its key goes to the password store)", "certificaat {} (de sleutel gaat naar de wachtwoordopslag)", "certificat {} (sa clé va dans le magasin de mots de passe)"),
    ("the stored certificate", "het bewaarde certificaat", "le certificat conservé"),
    ("a client secret (to the password store)", "een clientgeheim (naar de wachtwoordopslag)", "un secret client (dans le magasin de mots de passe)"),
    ("the stored client secret", "het bewaarde clientgeheim", "le secret client conservé"),
    ("Intune and the access policy file: tenant {}, application {}, {}", "Intune en het toegangsbeleidsbestand: tenant {}, toepassing {}, {}", "Intune et le fichier de stratégie d’accès : locataire {}, application {}, {}"),
    ("the access policy file only", "alleen het toegangsbeleidsbestand", "le fichier de stratégie d’accès seulement"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_templates() {
        assert_eq!(Lang::parse("nl_BE.UTF-8"), Some(Lang::Nl));
        assert_eq!(Lang::parse("fr-CA"), Some(Lang::Fr));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(Lang::En.f("a {} b {}", &["1", "2"]), "a 1 b 2");
    }

    /// The string literals passed to `l.t(…)` / `l.f(…)` (or `lang.t`, `lang.f`) in `src`.
    fn looked_up(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for call in ["l.t(", "l.f(", "lang.t(", "lang.f("] {
            for (at, _) in src.match_indices(call) {
                let before = src[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = src[at + call.len()..].trim_start();
                let Some(lit) = rest.strip_prefix('"') else {
                    continue;
                };
                let mut s = String::new();
                let mut chars = lit.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some(e) => s.push(e),
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn every_string_the_wizard_looks_up_is_translated() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("pages/apply.rs"),
            include_str!("pages/compliance.rs"),
            include_str!("pages/connect.rs"),
            include_str!("pages/done.rs"),
            include_str!("pages/notification.rs"),
            include_str!("pages/options.rs"),
            include_str!("pages/proxy.rs"),
            include_str!("pages/server.rs"),
            include_str!("pages/server_type.rs"),
            include_str!("pages/service_account.rs"),
            include_str!("pages/summary.rs"),
            include_str!("pages/welcome.rs"),
            include_str!("words.rs"),
            include_str!("effects.rs"),
            include_str!("ui.rs"),
            include_str!("focus.rs"),
            include_str!("keys.rs"),
        ];
        let found: Vec<String> = sources.iter().flat_map(|s| looked_up(s)).collect();
        assert!(
            found.len() > 100,
            "the scan finds the calls ({})",
            found.len()
        );
        assert!(found.iter().any(|s| s == "Show advanced Kerberos settings"));
        let missing: Vec<&String> = found
            .iter()
            .filter(|s| !table().contains_key(s.as_str()))
            .collect();
        assert!(missing.is_empty(), "no translation for {missing:?}");
        // Strings that come from elsewhere and are looked up by value.
        use crate::exchange::auth::kerberos::RealmSource;
        for source in [
            RealmSource::Setting,
            RealmSource::Account,
            RealmSource::ServerDomain,
        ] {
            assert!(table().contains_key(source.describe()), "{source:?}");
        }
    }

    #[test]
    fn every_translation_is_complete_and_keeps_placeholders() {
        for (en, nl, fr) in STRINGS.iter().chain(super::super::words::STRINGS) {
            assert!(!nl.is_empty() && !fr.is_empty(), "{en}");
            let n = en.matches("{}").count();
            assert_eq!(nl.matches("{}").count(), n, "{en}");
            assert_eq!(fr.matches("{}").count(), n, "{en}");
        }
    }
}
