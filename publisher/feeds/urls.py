from django.urls import path

from publisher.feeds import views as feed_views
from publisher.feeds.syndication import CapAtomFeed, LanguageAtomFeed

urlpatterns = [
    path("feeds/cap.xml", CapAtomFeed(), name="feed-cap"),
    path("feeds/cap/<int:message_id>.xml", feed_views.cap_alert, name="feed-cap-alert"),
    path("feeds/<str:key>.atom", LanguageAtomFeed(), name="feed-atom"),
    path("media/renditions/<str:name>", feed_views.rendition, name="rendition"),
]
