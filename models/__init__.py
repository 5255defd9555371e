"""SQLAlchemy tables. Importing this package registers every table on ``Base.metadata``."""

from models.audit import AuditEvent
from models.base import Base
from models.briefs import BriefRecord
from models.communities import BoundarySet, Community
from models.disclosure import IncidentCategory, PrivacyRules, SensitiveTerm
from models.figures import CommunityFigure, CommunityFigureValue
from models.hotspots import HotspotCell, HotspotRun
from models.imports import Import
from models.incidents import Incident
from models.interventions import Intervention
from models.users import ROLES, ApiToken, User, UserScope

__all__ = ["ApiToken", "AuditEvent", "Base", "BriefRecord", "BoundarySet", "Community", "CommunityFigure", "CommunityFigureValue", "HotspotCell", "HotspotRun", "Import", "Incident", "Intervention", "IncidentCategory", "PrivacyRules", "SensitiveTerm", "ROLES", "User", "UserScope"]
