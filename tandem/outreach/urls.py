from django.urls import path

from tandem.outreach import views

urlpatterns = [
    path("", views.index, name="worklists"),
    path("letters/", views.batch_letters, name="worklist-letters"),
    path("items/<int:pk>/", views.item_page, name="worklist-item"),
    path("items/<int:pk>/claim/", views.claim, name="worklist-item-claim"),
    path("items/<int:pk>/release/", views.release, name="worklist-item-release"),
    path("items/<int:pk>/attempts/", views.log_attempt, name="worklist-item-attempt"),
    path("items/<int:pk>/appointment/", views.book, name="worklist-item-book"),
    path("items/<int:pk>/resolve/", views.resolve, name="worklist-item-resolve"),
    path("items/<int:pk>/unable-to-reach/", views.unable, name="worklist-item-unable"),
    path("items/<int:pk>/letter.pdf", views.letter, name="worklist-item-letter"),
    path("<slug:key>/", views.worklist, name="worklist"),
]
