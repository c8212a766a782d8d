from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BidRequest(_message.Message):
    __slots__ = ("imp", "site", "app", "device", "user", "regs")
    class Imp(_message.Message):
        __slots__ = ("id",)
        ID_FIELD_NUMBER: _ClassVar[int]
        id: str
        def __init__(self, id: _Optional[str] = ...) -> None: ...
    class Site(_message.Message):
        __slots__ = ("domain", "page", "content")
        DOMAIN_FIELD_NUMBER: _ClassVar[int]
        PAGE_FIELD_NUMBER: _ClassVar[int]
        CONTENT_FIELD_NUMBER: _ClassVar[int]
        domain: str
        page: str
        content: BidRequest.Content
        def __init__(self, domain: _Optional[str] = ..., page: _Optional[str] = ..., content: _Optional[_Union[BidRequest.Content, _Mapping]] = ...) -> None: ...
    class App(_message.Message):
        __slots__ = ("domain", "bundle", "content")
        DOMAIN_FIELD_NUMBER: _ClassVar[int]
        BUNDLE_FIELD_NUMBER: _ClassVar[int]
        CONTENT_FIELD_NUMBER: _ClassVar[int]
        domain: str
        bundle: str
        content: BidRequest.Content
        def __init__(self, domain: _Optional[str] = ..., bundle: _Optional[str] = ..., content: _Optional[_Union[BidRequest.Content, _Mapping]] = ...) -> None: ...
    class Content(_message.Message):
        __slots__ = ("id", "url")
        ID_FIELD_NUMBER: _ClassVar[int]
        URL_FIELD_NUMBER: _ClassVar[int]
        id: str
        url: str
        def __init__(self, id: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...
    class Device(_message.Message):
        __slots__ = ("ip", "geo", "ipv6", "os", "ifa", "lmt")
        IP_FIELD_NUMBER: _ClassVar[int]
        GEO_FIELD_NUMBER: _ClassVar[int]
        IPV6_FIELD_NUMBER: _ClassVar[int]
        OS_FIELD_NUMBER: _ClassVar[int]
        IFA_FIELD_NUMBER: _ClassVar[int]
        LMT_FIELD_NUMBER: _ClassVar[int]
        ip: str
        geo: BidRequest.Geo
        ipv6: str
        os: str
        ifa: str
        lmt: bool
        def __init__(self, ip: _Optional[str] = ..., geo: _Optional[_Union[BidRequest.Geo, _Mapping]] = ..., ipv6: _Optional[str] = ..., os: _Optional[str] = ..., ifa: _Optional[str] = ..., lmt: _Optional[bool] = ...) -> None: ...
    class Geo(_message.Message):
        __slots__ = ("country", "zip")
        COUNTRY_FIELD_NUMBER: _ClassVar[int]
        ZIP_FIELD_NUMBER: _ClassVar[int]
        country: str
        zip: str
        def __init__(self, country: _Optional[str] = ..., zip: _Optional[str] = ...) -> None: ...
    class User(_message.Message):
        __slots__ = ("id", "consent", "eids", "ext")
        class Ext(_message.Message):
            __slots__ = ("consent", "eids")
            CONSENT_FIELD_NUMBER: _ClassVar[int]
            EIDS_FIELD_NUMBER: _ClassVar[int]
            consent: str
            eids: _containers.RepeatedCompositeFieldContainer[BidRequest.EID]
            def __init__(self, consent: _Optional[str] = ..., eids: _Optional[_Iterable[_Union[BidRequest.EID, _Mapping]]] = ...) -> None: ...
        ID_FIELD_NUMBER: _ClassVar[int]
        CONSENT_FIELD_NUMBER: _ClassVar[int]
        EIDS_FIELD_NUMBER: _ClassVar[int]
        EXT_FIELD_NUMBER: _ClassVar[int]
        id: str
        consent: str
        eids: _containers.RepeatedCompositeFieldContainer[BidRequest.EID]
        ext: BidRequest.User.Ext
        def __init__(self, id: _Optional[str] = ..., consent: _Optional[str] = ..., eids: _Optional[_Iterable[_Union[BidRequest.EID, _Mapping]]] = ..., ext: _Optional[_Union[BidRequest.User.Ext, _Mapping]] = ...) -> None: ...
    class EID(_message.Message):
        __slots__ = ("source", "uids")
        class UID(_message.Message):
            __slots__ = ("id",)
            ID_FIELD_NUMBER: _ClassVar[int]
            id: str
            def __init__(self, id: _Optional[str] = ...) -> None: ...
        SOURCE_FIELD_NUMBER: _ClassVar[int]
        UIDS_FIELD_NUMBER: _ClassVar[int]
        source: str
        uids: _containers.RepeatedCompositeFieldContainer[BidRequest.EID.UID]
        def __init__(self, source: _Optional[str] = ..., uids: _Optional[_Iterable[_Union[BidRequest.EID.UID, _Mapping]]] = ...) -> None: ...
    class Regs(_message.Message):
        __slots__ = ("coppa", "gpp", "gpp_sid", "gdpr", "us_privacy", "ext")
        class Ext(_message.Message):
            __slots__ = ("gdpr", "us_privacy", "gpc")
            GDPR_FIELD_NUMBER: _ClassVar[int]
            US_PRIVACY_FIELD_NUMBER: _ClassVar[int]
            GPC_FIELD_NUMBER: _ClassVar[int]
            gdpr: bool
            us_privacy: str
            gpc: str
            def __init__(self, gdpr: _Optional[bool] = ..., us_privacy: _Optional[str] = ..., gpc: _Optional[str] = ...) -> None: ...
        COPPA_FIELD_NUMBER: _ClassVar[int]
        GPP_FIELD_NUMBER: _ClassVar[int]
        GPP_SID_FIELD_NUMBER: _ClassVar[int]
        GDPR_FIELD_NUMBER: _ClassVar[int]
        US_PRIVACY_FIELD_NUMBER: _ClassVar[int]
        EXT_FIELD_NUMBER: _ClassVar[int]
        coppa: bool
        gpp: str
        gpp_sid: _containers.RepeatedScalarFieldContainer[int]
        gdpr: bool
        us_privacy: str
        ext: BidRequest.Regs.Ext
        def __init__(self, coppa: _Optional[bool] = ..., gpp: _Optional[str] = ..., gpp_sid: _Optional[_Iterable[int]] = ..., gdpr: _Optional[bool] = ..., us_privacy: _Optional[str] = ..., ext: _Optional[_Union[BidRequest.Regs.Ext, _Mapping]] = ...) -> None: ...
    IMP_FIELD_NUMBER: _ClassVar[int]
    SITE_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    REGS_FIELD_NUMBER: _ClassVar[int]
    imp: _containers.RepeatedCompositeFieldContainer[BidRequest.Imp]
    site: BidRequest.Site
    app: BidRequest.App
    device: BidRequest.Device
    user: BidRequest.User
    regs: BidRequest.Regs
    def __init__(self, imp: _Optional[_Iterable[_Union[BidRequest.Imp, _Mapping]]] = ..., site: _Optional[_Union[BidRequest.Site, _Mapping]] = ..., app: _Optional[_Union[BidRequest.App, _Mapping]] = ..., device: _Optional[_Union[BidRequest.Device, _Mapping]] = ..., user: _Optional[_Union[BidRequest.User, _Mapping]] = ..., regs: _Optional[_Union[BidRequest.Regs, _Mapping]] = ...) -> None: ...
