"""Where a lead can be: terminal states and the in-flight states at the horizon (``docs/model.md``, Measures)."""

NOT_MQL = 0  # below the threshold and no nurture
NURTURE_DROPPED = 1
NURTURE_EXPIRED = 2
LOST_COLD = 3  # not contacted in time and not recycled
DISQUALIFIED = 4
LOST_PIPELINE = 5
LOST_REP_LEFT = 6
WON = 7
IN_NURTURE = 8
WAITING_SDR = 9
IN_QUALIFICATION = 10
WAITING_AE = 11
OPEN_OPPORTUNITY = 12

TERMINAL = {
    NOT_MQL: "not_mql",
    NURTURE_DROPPED: "nurture_dropped",
    NURTURE_EXPIRED: "nurture_expired",
    LOST_COLD: "lost_cold",
    DISQUALIFIED: "disqualified",
    LOST_PIPELINE: "lost_pipeline",
    LOST_REP_LEFT: "lost_rep_left",
    WON: "won",
}
IN_FLIGHT = {
    IN_NURTURE: "in_nurture",
    WAITING_SDR: "waiting_for_contact",
    IN_QUALIFICATION: "in_qualification",
    WAITING_AE: "waiting_for_ae",
    OPEN_OPPORTUNITY: "open_opportunity",
}
