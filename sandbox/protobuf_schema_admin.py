"""Protobuf field facts of the cluster-administration kinds and the procedure bodies, in the notation
of protobuf_schema.py (which merges them into MESSAGES).

kubectl 1.32 and newer send these as protobuf: `auth can-i` and `auth whoami` (reviews), `create
token` (TokenRequest), `drain` (Eviction), `certificate approve` (the CSR's approval), and the typed
`create quota` and `create priorityclass`. The numbers and names are those of k8s.io/api's
generated.proto files; `extra` maps of user info are left out (they would be skipped as unknown).
"""

from __future__ import annotations

ADMIN_MESSAGES: dict[str, str | tuple[str, ...]] = {
    "authorization.v1.ResourceAttributes": (
        "1 namespace s, 2 verb s, 3 group s, 4 version s, 5 resource s, 6 subresource s, 7 name s"
    ),
    "authorization.v1.NonResourceAttributes": "1 path s, 2 verb s",
    "authorization.v1.SelfSubjectAccessReviewSpec": (
        "1 resourceAttributes authorization.v1.ResourceAttributes, 2 nonResourceAttributes "
        "authorization.v1.NonResourceAttributes"
    ),
    "authorization.v1.SelfSubjectAccessReview": (
        "1 metadata meta.v1.ObjectMeta, 2 spec authorization.v1.SelfSubjectAccessReviewSpec !"
    ),
    "authorization.v1.SelfSubjectRulesReviewSpec": "1 namespace s",
    "authorization.v1.SelfSubjectRulesReview": (
        "1 metadata meta.v1.ObjectMeta, 2 spec authorization.v1.SelfSubjectRulesReviewSpec !"
    ),
    "authorization.v1.SubjectAccessReviewSpec": (
        "1 resourceAttributes authorization.v1.ResourceAttributes, 2 nonResourceAttributes "
        "authorization.v1.NonResourceAttributes, 3 user s, 4 groups s *, 6 uid s"
    ),
    "authorization.v1.SubjectAccessReview": (
        "1 metadata meta.v1.ObjectMeta, 2 spec authorization.v1.SubjectAccessReviewSpec !"
    ),
    "authorization.v1.LocalSubjectAccessReview": (
        "1 metadata meta.v1.ObjectMeta, 2 spec authorization.v1.SubjectAccessReviewSpec !"
    ),
    "authentication.v1.TokenReviewSpec": "1 token s, 2 audiences s *",
    "authentication.v1.TokenReview": (
        "1 metadata meta.v1.ObjectMeta, 2 spec authentication.v1.TokenReviewSpec !"
    ),
    "authentication.v1.SelfSubjectReview": "1 metadata meta.v1.ObjectMeta !",
    "authentication.v1.BoundObjectReference": "1 kind s, 2 apiVersion s, 3 name s, 4 uid s",
    "authentication.v1.TokenRequestSpec": (
        "1 audiences s *, 3 boundObjectRef authentication.v1.BoundObjectReference, 4 expirationSeconds i"
    ),
    "authentication.v1.TokenRequest": (
        "1 metadata meta.v1.ObjectMeta, 2 spec authentication.v1.TokenRequestSpec !"
    ),
    "policy.v1.Eviction": "1 metadata meta.v1.ObjectMeta, 2 deleteOptions meta.v1.DeleteOptions",
    "core.v1.Binding": "1 metadata meta.v1.ObjectMeta, 2 target core.v1.ObjectReference !",
    "certificates.v1.CertificateSigningRequestCondition": (
        "1 type s !, 2 reason s, 3 message s, 4 lastUpdateTime time, 5 lastTransitionTime time, 6 status s !"
    ),
    "certificates.v1.CertificateSigningRequestStatus": (
        "1 conditions certificates.v1.CertificateSigningRequestCondition *, 2 certificate y"
    ),
    "certificates.v1.CertificateSigningRequestSpec": (
        "1 request y !, 2 username s, 3 uid s, 4 groups s *, 5 usages s *, 7 signerName s !, "
        "8 expirationSeconds i"
    ),
    "certificates.v1.CertificateSigningRequest": (
        "1 metadata meta.v1.ObjectMeta, 2 spec certificates.v1.CertificateSigningRequestSpec !, 3 status "
        "certificates.v1.CertificateSigningRequestStatus"
    ),
    "scheduling.v1.PriorityClass": (
        "1 metadata meta.v1.ObjectMeta, 2 value i !, 3 globalDefault b, 4 description s, 5 preemptionPolicy s"
    ),
    "core.v1.ScopedResourceSelectorRequirement": "1 scopeName s !, 2 operator s !, 3 values s *",
    "core.v1.ScopeSelector": "1 matchExpressions core.v1.ScopedResourceSelectorRequirement *",
    "core.v1.ResourceQuotaSpec": (
        "1 hard map:s:quantity, 2 scopes s *, 3 scopeSelector core.v1.ScopeSelector"
    ),
    "core.v1.ResourceQuota": "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.ResourceQuotaSpec",
    "core.v1.LimitRangeItem": (
        "1 type s !, 2 max map:s:quantity, 3 min map:s:quantity, 4 default map:s:quantity, "
        "5 defaultRequest map:s:quantity, 6 maxLimitRequestRatio map:s:quantity"
    ),
    "core.v1.LimitRangeSpec": "1 limits core.v1.LimitRangeItem *!",
    "core.v1.LimitRange": "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.LimitRangeSpec",
}
