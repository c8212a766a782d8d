from server.artf.pb import agenticrtbframework_pb2 as _agenticrtbframework_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
