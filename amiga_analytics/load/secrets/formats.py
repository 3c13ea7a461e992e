"""Credential formats recognised by their own shape, wherever they stand (no keyword needed).

The list covers the token formats that public secret scanners know (the providers of gitleaks' and
detect-secrets' rules: cloud keys, source forges, chat, payment, AI, package registries, observability, …).
Each entry is written here from the provider's documented token shape; none is copied from a scanner.
A format is ``(trigger, pattern)``: the pattern runs only when its trigger occurs in the text (compared
lower-cased unless the trigger holds a capital; the empty trigger: when the text holds a run of 20 or more token
characters), and every match is extended to the end of its run of token characters, so the whole token is masked.
"""

from __future__ import annotations

import re

_A = "A-Za-z0-9"
_X = "A-Za-z0-9_\\-"  # alphanumeric extended

# (trigger, token pattern). Ordered loosely by provider family.
FORMATS: tuple[tuple[str, str], ...] = (
    # AI providers
    ("sk-", r"sk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|admin-|live-|test-)?[" + _X + r"]{20,}"),
    ("t3blbkfj", r"[" + _X + r"]{8,}T3BlbkFJ[" + _X + r"]{8,}"),
    ("pplx-", r"pplx-[" + _A + r"]{40,}"),
    ("hf_", r"hf_[" + _A + r"]{30,}"),
    ("api_org_", r"api_org_[" + _A + r"]{30,}"),
    ("gsk_", r"gsk_[" + _A + r"]{40,}"),
    ("r8_", r"r8_[" + _A + r"]{30,}"),
    ("xai-", r"xai-[" + _A + r"]{40,}"),
    # Cloud
    ("AKIA", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"),
    ("ASIA", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"),
    ("ABIA", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"),
    ("ACCA", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"),
    ("A3T", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"),
    ("absk", r"ABSK[A-Za-z0-9+/]{100,}={0,2}"),
    ("bedrock-api-key-", r"bedrock-api-key-[A-Za-z0-9+/=]{20,}"),
    ("aiza", r"AIza[" + _X + r"]{35}"),
    ("gocspx-", r"GOCSPX-[" + _X + r"]{20,}"),
    ("ya29.", r"ya29\.[" + _X + r"]{30,}"),
    ("ltai", r"LTAI[" + _A + r"]{20}"),
    ("q~", r"[" + _A + r"_~.]{3}\dQ~[" + _A + r"_~.\-]{31,34}"),
    ("accountkey=", r"(?<=AccountKey=)[A-Za-z0-9+/]{80,}={0,2}"),
    ("sharedaccesssignature", r"(?<=SharedAccessSignature=)[^\s;'\"]+"),
    ("dop_v1_", r"do[opr]_v1_[a-f0-9]{64}"),
    ("doo_v1_", r"do[opr]_v1_[a-f0-9]{64}"),
    ("dor_v1_", r"do[opr]_v1_[a-f0-9]{64}"),
    ("aqvn", r"AQVN[" + _X + r"]{35,38}"),
    ("t1.", r"t1\.[A-Z0-9a-z_\-]+={0,2}\.[A-Z0-9a-z_\-]{86}={0,2}"),
    ("v1.0-", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
    ("sha256~", r"sha256~[" + _X + r"]{43}"),
    ("fo1_", r"fo1_[" + _X + r"]{40,}"),
    ("fm1", r"fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}"),
    ("fm2", r"fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}"),
    ("flyv1 ", r"(?<=FlyV1 )fm\d+_[A-Za-z0-9+/=_,\-]{50,}"),
    ("hrku-", r"HRKU-[" + _X + r"]{50,}"),
    ("atlasv1", r"[a-z0-9]{14}\.atlasv1\.[a-z0-9_=\-]{60,}"),
    ("hvs.", r"hv[sbr]\.[" + _X + r"]{24,}"),
    ("hvb.", r"hv[sbr]\.[" + _X + r"]{24,}"),
    ("hvr.", r"hv[sbr]\.[" + _X + r"]{24,}"),
    ("pul-", r"pul-[a-f0-9]{40}"),
    ("dapi", r"dapi[a-f0-9]{32}(?:-\d)?"),
    ("pscale_", r"pscale_(?:tkn|oauth|pw)_[A-Za-z0-9=._\-]{32,64}"),
    ("tk-us-", r"tk-us-[" + _X + r"]{48}"),
    ("dnkey-", r"dnkey-[a-z0-9=_\-]{26}-[a-z0-9=_\-]{52}"),
    ("ico-", r"ico-[" + _A + r"]{32}"),
    ("4b1d", r"4b1d[" + _A + r"]{38}"),
    # Source forges and CI
    ("ghp_", r"gh[pousr]_[" + _A + r"]{30,}"),
    ("gho_", r"gh[pousr]_[" + _A + r"]{30,}"),
    ("ghu_", r"gh[pousr]_[" + _A + r"]{30,}"),
    ("ghs_", r"gh[pousr]_[" + _A + r"]{30,}"),
    ("ghr_", r"gh[pousr]_[" + _A + r"]{30,}"),
    ("github_pat_", r"github_pat_\w{22,}"),
    ("glpat-", r"glpat-[" + _X + r"]{20,}"),
    ("gldt-", r"gldt-[" + _X + r"]{20,}"),
    ("glrt-", r"glrt-[" + _X + r"]{20,}"),
    ("glptt-", r"glptt-[" + _X + r"]{20,}"),
    ("glcbt-", r"glcbt-[" + _X + r"]{20,}"),
    ("glft-", r"glft-[" + _X + r"]{20,}"),
    ("glimt-", r"glimt-[" + _X + r"]{20,}"),
    ("glagent-", r"glagent-[" + _X + r"]{20,}"),
    ("glsoat-", r"glsoat-[" + _X + r"]{20,}"),
    ("gloas-", r"gloas-[" + _X + r"]{20,}"),
    ("glffct-", r"glffct-[" + _X + r"]{20,}"),
    ("gr1348941", r"GR1348941[" + _X + r"]{20}"),
    ("atbb", r"ATBB[" + _A + r"]{32,}"),
    ("atatt3", r"ATATT3[" + _X + r"=]{100,}"),
    ("atctt3", r"ATCTT3[" + _X + r"=]{100,}"),
    ("sgp_", r"sgp_(?:local_|[a-fA-F0-9]{16}_)?[a-fA-F0-9]{40}"),
    ("sgs_", r"sgs_[a-fA-F0-9]{40,}"),
    ("pat.", r"(?:pat|sat)\.[" + _X + r"]{22}\.[0-9a-f]{24}\.[" + _A + r"]{20}"),
    ("sat.", r"(?:pat|sat)\.[" + _X + r"]{22}\.[0-9a-f]{24}\.[" + _A + r"]{20}"),
    ("dckr_pat_", r"dckr_(?:pat|oat)_[" + _X + r"]{20,}"),
    ("dckr_oat_", r"dckr_(?:pat|oat)_[" + _X + r"]{20,}"),
    ("dp.", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[" + _A + r"]{40,}"),
    ("api-", r"API-[A-Z0-9]{26}"),
    ("snyk_", r"snyk_[a-z]{3}_[" + _X + r"]{20,}"),
    # Package registries
    ("npm_", r"npm_[" + _A + r"]{36}"),
    ("pypi-ageichlwas5vcmc", r"pypi-AgEIcHlwaS5vcmc[" + _X + r"]{30,}"),
    ("rubygems_", r"rubygems_[a-f0-9]{48}"),
    ("oy2", r"oy2[a-z0-9]{43}"),
    ("clojars_", r"CLOJARS_[a-z0-9]{60}"),
    ("akcp", r"AKCp[" + _A + r"]{60,}"),
    ("cmvmdgtu", r"cmVmdGtu[" + _A + r"]{56,}"),
    # Chat and collaboration
    ("xox", r"xox[abposer]-(?:\d-)?[" + _A + r"\-]{10,}"),
    ("xoxe.", r"xoxe\.xox[bp]-\d-[A-Z0-9]{100,}"),
    ("xapp-", r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"),
    ("hooks.slack.com", r"(?<=hooks\.slack\.com/)(?:services|workflows|triggers)/[" + _A + r"/_\-]{20,}"),
    ("webhook.office.com", r"(?<=webhook\.office\.com/)webhookb2/[" + _A + r"@/\-]{40,}"),
    ("discord", r"(?<=discord\.com/api/webhooks/)\d+/[" + _X + r"]{40,}"),
    ("discordapp", r"(?<=discordapp\.com/api/webhooks/)\d+/[" + _X + r"]{40,}"),
    ("", r"[MNO][" + _X + r"]{23,25}\.[" + _X + r"]{6}\.[" + _X + r"]{27,}"),
    (":A", r"\d{5,16}:A[" + _X + r"]{34}"),
    ("lin_api_", r"lin_api_[" + _A + r"]{40}"),
    ("ntn_", r"ntn_\d{11}[" + _A + r"]{35}"),
    ("secret_", r"secret_[" + _A + r"]{43}"),
    ("xkeysib-", r"xkeysib-[a-f0-9]{64}-[" + _A + r"]{16}"),
    ("sg.", r"SG\.[" + _X + r"]{20,24}\.[" + _X + r"]{39,50}"),
    ("-us", r"[a-f0-9]{32}-us\d{1,2}"),
    ("key-", r"key-[a-f0-9]{32}"),
    ("pubkey-", r"pubkey-[a-f0-9]{32}"),
    ("pmak-", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    ("pnu_", r"pnu_[" + _A + r"]{36}"),
    ("rdme_", r"rdme_[a-z0-9]{70}"),
    ("tfp_", r"tfp_[a-z0-9_.=\-]{59}"),
    ("aio_", r"aio_[" + _A + r"]{28}"),
    ("age-secret-key-1", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    ("ops_ey", r"ops_eyJ[A-Za-z0-9+/=]{100,}"),
    ("a3-", r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}"),
    ("cfpat-", r"CFPAT-[" + _X + r"]{43}"),
    ("fio-u-", r"fio-u-[" + _X + r"]{64}"),
    ("pat-", r"pat-(?:na|eu)1-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"),
    ("", r"pat[" + _A + r"]{14}\.[a-f0-9]{64}"),
    ("sl.", r"sl\.[" + _X + r"=]{130,}"),
    ("eaa", r"EAA[MC][" + _A + r"]{80,}"),
    ("", r"b_[a-z0-9=_\-]{44}"),
    # Payment and commerce
    ("k_live_", r"[rsp]k_(?:live|test|prod)_[" + _A + r"]{10,}"),
    ("k_test_", r"[rsp]k_(?:live|test|prod)_[" + _A + r"]{10,}"),
    ("k_prod_", r"[rsp]k_(?:live|test|prod)_[" + _A + r"]{10,}"),
    ("whsec_", r"whsec_[" + _A + r"+/=]{24,}"),
    ("sq0", r"sq0(?:atp|csp)-[" + _X + r"]{22,60}"),
    ("eaaa", r"EAAA[" + _X + r"+=]{60}"),
    ("shpat_", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    ("shpca_", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    ("shppa_", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    ("shpss_", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    ("shippo_", r"shippo_(?:live|test)_[a-fA-F0-9]{40}"),
    ("duffel_", r"duffel_(?:test|live)_[" + _X + r"=]{43}"),
    ("ezak", r"EZ[AT]K[a-z0-9]{54}"),
    ("eztk", r"EZ[AT]K[a-z0-9]{54}"),
    ("flw", r"FLW(?:PUB|SEC)K(?:_TEST)?-[a-hA-H0-9]{32}-X"),
    ("", r"(?:live|test)_(?:pub_)?[a-f0-9]{31,35}"),
    ("AC", r"AC[a-f0-9]{32}"),
    ("SK", r"SK[0-9a-fA-F]{32}"),
    # Observability
    ("nrak-", r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{19,}"),
    ("nrii-", r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{19,}"),
    ("nrjs-", r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{19,}"),
    ("nraa-", r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{19,}"),
    ("dt0c01.", r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    ("glc_", r"glc_[A-Za-z0-9+/]{32,}={0,2}"),
    ("glsa_", r"glsa_[" + _A + r"]{32}_[A-Fa-f0-9]{8}"),
    ("eyjrijoi", r"eyJrIjoi[A-Za-z0-9]{70,}={0,2}"),
    ("sntrys_", r"sntrys_eyJ[A-Za-z0-9+/=_\-]{40,}"),
    ("sntryu_", r"sntryu_[a-f0-9]{64}"),
    ("sm_", r"sm_(?:pat|aat|sat)_[" + _A + r"]{16}"),
    ("_mmk", r"[" + _A + r"]{6}_[" + _A + r"]{29}_mmk"),
    ("s-s4t2", r"s-s4t2(?:ud|af)-[a-f0-9]{64}"),
    ("authress", r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_\-][a-z0-9\-]{10,32}\.[a-z0-9+/_=\-]{30,120}"),
    ("sc_", r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_\-][a-z0-9\-]{10,32}\.[a-z0-9+/_=\-]{30,120}"),
    ("ext_", r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_\-][a-z0-9\-]{10,32}\.[a-z0-9+/_=\-]{30,120}"),
    # JSON web tokens, Mapbox (a JWT behind pk./sk.), password hashes
    ("eyj", r"eyJ[" + _X + r"]{8,}\.eyJ[" + _X + r"]{8,}\.?[" + _X + r"+/=]*"),
    ("eyj", r"eyJ[" + _X + r"]{15,}\.[" + _X + r"]{15,}\.[" + _X + r"+/=]{8,}"),
    ("sk.eyj", r"[ps]k\.eyJ[" + _X + r".]{20,}"),
    ("pk.eyj", r"[ps]k\.eyJ[" + _X + r".]{20,}"),
)

# Known prefixes, for a token the bot's 500-character cut left short (``…ghp_ab12...``).
PREFIXES: tuple[str, ...] = (
    "sk-", "pplx-", "hf_", "api_org_", "gsk_", "AKIA", "ASIA", "AIza", "GOCSPX-", "ya29.", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glrt-", "glptt-", "xoxb-", "xoxp-", "xoxa-", "xoxs-", "xoxe",
    "xapp-", "npm_", "pypi-", "rubygems_", "dckr_pat_", "sk_live_", "sk_test_", "rk_live_", "pk_live_", "whsec_",
    "SG.", "hvs.", "dop_v1_", "lin_api_", "ntn_", "xkeysib-", "NRAK-", "glc_", "glsa_", "sntrys_", "fo1_",
    "eyJ", "HRKU-", "PMAK-", "shpat_", "pscale_", "ABSK", "dapi", "sgp_", "ops_eyJ", "CFPAT-", "AKCp",
)

_TAIL = r"[" + _X + r"+/=.~]*"


def compiled_formats() -> list[tuple[str, re.Pattern[str]]]:
    """The formats as ``(trigger, pattern)``, each pattern consuming the rest of its token."""
    return [(trigger, re.compile(pattern + _TAIL)) for trigger, pattern in FORMATS]
